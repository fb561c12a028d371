/*
 * file_helpers.h -- what the async file suites (test_file_*.c) share: a
 * temporary directory per test, made by file_setup and removed, with
 * whatever the test left in it, by file_teardown.
 */
#ifndef TESTS_FILE_HELPERS_H
#define TESTS_FILE_HELPERS_H

#include <stddef.h>
#include <sys/types.h>

/* Checked fixture: a fresh directory (and the log reset). */
void file_setup(void);
void file_teardown(void);

/* The path of `name` in the test's directory (a static buffer per call
 * site is not needed: each call returns a new string, freed at
 * teardown). */
const char *tmp_path(const char *name);

/* Write len bytes to path with plain system calls (the test's own view of
 * the disk, not the library's); the file's size, or -1. */
void put_file(const char *path, const void *data, size_t len);
off_t file_size(const char *path);
/* The whole file, malloc'd (free it); its length in *len. */
unsigned char *get_file(const char *path, size_t *len);

#endif
