// SPDX-License-Identifier: GPL-2.0
/*
 * image.c - struct moat_image lifetime.
 */
#include <stdlib.h>
#include <string.h>

#include "image.h"
#include "layout.h"

void moat_image_free(struct moat_image *img)
{
	if (!img)
		return;
	if (img->rule_info) {
		for (size_t i = 0; i < img->nrules; i++) {
			free(img->rule_info[i].text);
			free(img->rule_info[i].norm);
		}
	}
	free(img->rule_info);
	free(img->rules);
	free(img->cls);
	free(img->lpm4);
	free(img->lpm6);
	free(img->redirect_ifindex);
	if (img->layout)
		moat_layout_free(img->layout);
	free(img->layout);
	memset(img, 0, sizeof(*img));
}
