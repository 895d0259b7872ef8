/* unresolved.c - calls a function no library defines, so RTLD_NOW fails. */
#include "stub.h"
extern int weir_test_no_such_function(void);
static weir_status create(const uint8_t *cfg, size_t len, const weir_host_api *api, weir_host *host,
			  weir_instance **out)
{
	(void)cfg;
	(void)len;
	(void)api;
	(void)host;
	(void)out;
	return weir_test_no_such_function() ? WEIR_OK : WEIR_ERROR;
}
static const weir_connector_type t = {STUB_TYPE("x"), .create = create};
static const weir_connector_type *const types[] = {&t};
STUB_PLUGIN(types, 1)
