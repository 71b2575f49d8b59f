/*
 * Shared helpers for the cmocka unit tests: temporary directories and
 * small file utilities. Every test binary links harness.c.
 */
#ifndef AGENTD_TEST_HARNESS_H
#define AGENTD_TEST_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

/* Create a fresh temporary directory; returns an allocated path. */
char	*harness_tmpdir(void);
/* Remove a directory tree made by harness_tmpdir and free the path. */
void	 harness_rmdir(char *path);
/* Allocated "dir/name". */
char	*harness_path(const char *dir, const char *name);

#endif
