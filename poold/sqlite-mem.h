/*
 * sqlite-mem.h - SQLite's allocator: size classes kept for reuse. Debian's
 * SQLite is built without lookaside memory (SQLITE_OMIT_LOOKASIDE), so
 * each write statement mallocs its record and frees it at the reset; with
 * this allocator a commit at steady state reuses the blocks of the last
 * one.
 */
#ifndef POOLD_SQLITE_MEM_H
#define POOLD_SQLITE_MEM_H

/* Installs it if SQLite is not initialized yet (else keeps SQLite's own):
 * call before the first connection is opened. */
void sqlite_mem_install(void);

#endif
