/*
 * fuzz_opensmtpd_table.c - libFuzzer target for table-stsguard's input: the
 * bytes smtpd sends a proc table, imsg API v2 or text protocol 0.1
 * (adapters/opensmtpd/table_stsguard.c).
 *
 * The table points at a socket that does not exist, so every question is
 * answered from its memory or "not found" at once. Whatever the input, it
 * must not crash, hang or leak, and every imsg reply it writes must be a
 * well-formed OK message (smtpd kills itself on anything else): its header
 * length matches the bytes and the type is OK.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define TABLE_STSGUARD_NO_MAIN
#include "table_stsguard.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tbl t;
	static struct obuf o;
	char err[200];

	if (tbl_init(&t, "/nonexistent/stsguard-fuzz.sock,enforce,timeout=100", err, sizeof err) != 0)
		__builtin_trap();
	o.fd = -1;
	o.len = 0;
	o.overflow = 0;
	(void)tbl_feed(&t, data, size, &o);
	if (t.proto == 1 && !o.overflow) {
		for (size_t off = 0; off < o.len;) {
			if (o.len - off < TBL_HDR || rd32(o.data + off) != P_OK)
				__builtin_trap();
			uint16_t len = rd16(o.data + off + 4);
			if (len < TBL_HDR || len > o.len - off)
				__builtin_trap();
			off += len;
		}
	}
	tbl_free(&t);
	return 0;
}
