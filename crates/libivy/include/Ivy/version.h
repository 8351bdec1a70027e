/*
 * Ivy software bus, C API (ivy-rs: a drop-in replacement for ivy-c 3.15's libivy).
 * SPDX-License-Identifier: MIT
 */

#ifndef IVY_VERSION_H
#define IVY_VERSION_H

#ifdef __cplusplus
extern "C" {
#endif

/* BEGIN cbindgen: generated from src/version.rs; IVY_UPDATE_HEADERS=1 cargo build rewrites it */

/**
 * Major version (also the wire protocol version).
 */
#define IVYMAJOR_VERSION 3

/**
 * Minor version.
 */
#define IVYMINOR_VERSION 15

/* END cbindgen */

#ifdef __cplusplus
}
#endif

#endif /* IVY_VERSION_H */
