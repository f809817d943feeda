/*
 * export.h - symbol visibility for libstsguard.
 *
 * The library is built with -fvisibility=hidden; only declarations marked
 * STSGUARD_EXPORT are part of the ABI. Nothing is exported by accident.
 */
#ifndef STSGUARD_EXPORT_H
#define STSGUARD_EXPORT_H

#if defined(STSGUARD_BUILDING) && defined(__GNUC__)
#define STSGUARD_EXPORT __attribute__((visibility("default")))
#else
#define STSGUARD_EXPORT
#endif

#endif
