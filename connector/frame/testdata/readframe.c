/* readframe: an independent reader of weir's batch frame (version 1),
 * written from docs/FRAMING.md alone. It reads one frame from the file
 * named by argv[1] and prints one line per event:
 *     ts stream kind flags len hexbytes
 * or "error: ..." and exit status 1 when the frame is not valid. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t crc32_ieee(uint32_t crc, const unsigned char *p, size_t n) {
	crc = ~crc;
	while (n--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
	}
	return ~crc;
}

static uint64_t le(const unsigned char *p, int n) {
	uint64_t v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static int fail(const char *msg) {
	printf("error: %s\n", msg);
	return 1;
}

int main(int argc, char **argv) {
	if (argc != 2)
		return fail("usage: readframe FILE");
	FILE *f = fopen(argv[1], "rb");
	if (!f)
		return fail("cannot open file");
	static unsigned char buf[1 << 24];
	size_t n = fread(buf, 1, sizeof buf, f);
	fclose(f);
	if (n < 20)
		return fail("short header");
	if (memcmp(buf, "WEBF", 4) != 0)
		return fail("bad magic");
	if (buf[4] != 1)
		return fail("unknown version");
	if (buf[5] || buf[6] || buf[7])
		return fail("reserved bytes set");
	uint64_t count = le(buf + 8, 4), body = le(buf + 12, 4), want = le(buf + 16, 4);
	if (body != n - 20)
		return fail("body length mismatch");
	unsigned char hdr[20];
	memcpy(hdr, buf, 20);
	memset(hdr + 16, 0, 4);
	uint32_t crc = crc32_ieee(0, hdr, 20);
	crc = crc32_ieee(crc, buf + 20, body);
	if (crc != want)
		return fail("checksum mismatch");
	size_t off = 20;
	for (uint64_t i = 0; i < count; i++) {
		if (n - off < 24)
			return fail("record header past end");
		const unsigned char *r = buf + off;
		uint64_t len = le(r + 20, 4);
		off += 24;
		if (len > n - off)
			return fail("record bytes past end");
		printf("%llu %llu %u %u %llu ", (unsigned long long)le(r, 8), (unsigned long long)le(r + 8, 8),
		       (unsigned)le(r + 16, 2), (unsigned)le(r + 18, 2), (unsigned long long)len);
		for (uint64_t j = 0; j < len; j++)
			printf("%02x", buf[off + j]);
		printf("\n");
		off += len;
	}
	if (off != n)
		return fail("trailing bytes");
	return 0;
}
