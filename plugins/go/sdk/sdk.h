/*
 * sdk.h - the C half of the weir Go plugin SDK: static descriptor tables
 * and the trampolines that forward every ABI call to exported Go functions.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef WEIRSDK_H
#define WEIRSDK_H

#include <stdint.h>
#include <weir/plugin.h>

/* Most connector types one Go plugin library may register. */
#define WEIRSDK_MAX_TYPES 16

/* Role bits, as weirsdk.Role spells them. */
#define WEIRSDK_ROLE_SOURCE 1
#define WEIRSDK_ROLE_SINK 2
#define WEIRSDK_ROLE_PROCESSOR 4

/* Lifecycle operation numbers for weirsdk_op. */
#define WEIRSDK_OP_START 1
#define WEIRSDK_OP_PAUSE 2
#define WEIRSDK_OP_RESUME 3
#define WEIRSDK_OP_DRAIN 4
#define WEIRSDK_OP_STOP 5

/* Fills type slot i. Strings must stay valid while the library is loaded. */
void weirsdk_set_type(int i, const char *id, const char *description,
		      const char *schema, int roles, int wants_acks);

/* Fills the plugin descriptor and returns it. */
const weir_plugin *weirsdk_set_plugin(const char *name, const char *version, int n_types);

/* Layout numbers for the SDK's layout test. */
size_t weirsdk_layout(int what);

#endif /* WEIRSDK_H */
