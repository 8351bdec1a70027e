/*
 * Ivy software bus, C API (ivy-rs: a drop-in replacement for ivy-c 3.15's libivy).
 * SPDX-License-Identifier: MIT
 */
