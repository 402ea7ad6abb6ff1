// SPDX-License-Identifier: GPL-2.0
/*
 * replay.c - a main() for the fuzz targets without libFuzzer: feed every
 * file named on the command line (directories: every regular file in them,
 * sorted) to LLVMFuzzerTestOneInput, each in a child process so a crash
 * fails that input only.  Prints "ok - TARGET/FILE" or "not ok - ..." per
 * input and "SUMMARY TARGET passed=N failed=N skipped=0".
 *
 *   replay [-n NAME] PATH...
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "fuzz.h"

__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	return 0;
}

static int passed, failed;
static const char *name = "fuzz";

static int run_one(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t n = 0, cap = 0;
	int st = 0;
	pid_t pid;

	if (!f) {
		printf("not ok - %s/%s: %s\n", name, path, strerror(errno));
		return -1;
	}
	for (;;) {
		if (n == cap) {
			cap = cap ? cap * 2 : 4096;
			buf = realloc(buf, cap);
			if (!buf)
				abort();
		}
		size_t k = fread(buf + n, 1, cap - n, f);

		if (!k)
			break;
		n += k;
	}
	fclose(f);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		LLVMFuzzerTestOneInput(buf, n);
		_exit(0);
	}
	free(buf);
	if (pid < 0 || waitpid(pid, &st, 0) < 0) {
		printf("not ok - %s/%s: fork: %s\n", name, path, strerror(errno));
		return -1;
	}
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	if (WIFSIGNALED(st))
		printf("not ok - %s/%s: killed by signal %d (%s)\n", name, path,
		       WTERMSIG(st), strsignal(WTERMSIG(st)));
	else
		printf("not ok - %s/%s: exit %d\n", name, path,
		       WEXITSTATUS(st));
	return -1;
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void run_path(const char *path)
{
	struct stat s;
	struct dirent *e;
	char **v = NULL;
	size_t n = 0, i;
	int ok = 0, bad = 0;
	DIR *d;

	if (stat(path, &s)) {
		printf("not ok - %s/%s: %s\n", name, path, strerror(errno));
		failed++;
		return;
	}
	if (!S_ISDIR(s.st_mode)) {
		if (run_one(path)) {
			failed++;
		} else {
			passed++;
			printf("ok - %s/%s\n", name, path);
		}
		return;
	}
	d = opendir(path);
	if (!d) {
		printf("not ok - %s/%s: %s\n", name, path, strerror(errno));
		failed++;
		return;
	}
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		v = realloc(v, (n + 1) * sizeof(*v));
		if (!v || asprintf(&v[n], "%s/%s", path, e->d_name) < 0)
			abort();
		n++;
	}
	closedir(d);
	if (n)
		qsort(v, n, sizeof(*v), cmp);
	for (i = 0; i < n; i++) {
		if (stat(v[i], &s) || !S_ISREG(s.st_mode))
			continue;
		if (run_one(v[i]))
			bad++;
		else
			ok++;
		free(v[i]);
	}
	free(v);
	/* one line per directory keeps the log short; failures are listed */
	if (bad)
		failed++;
	else
		passed++;
	printf("%s - %s/%s: %d inputs replayed, %d failed\n",
	       bad ? "not ok" : "ok", name, path, ok + bad, bad);
}

int main(int argc, char **argv)
{
	int i = 1;

	if (argc > 2 && !strcmp(argv[1], "-n")) {
		name = argv[2];
		i = 3;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	LLVMFuzzerInitialize(&argc, &argv);
	for (; i < argc; i++)
		run_path(argv[i]);
	printf("SUMMARY %s passed=%d failed=%d skipped=0\n", name, passed,
	       failed);
	return failed ? 1 : 0;
}
