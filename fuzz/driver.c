/*
 * Standalone driver for fuzz targets when the compiler has no libFuzzer
 * (gcc): runs every file of the corpus directories given, then random
 * mutations of them for -max_total_time=S seconds.  Not coverage guided;
 * clang builds link libFuzzer instead and ignore this file.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_INPUT 4096

static size_t load(const char *path, uint8_t *buf)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, FUZZ_MAX_INPUT, f);
	fclose(f);
	return n;
}

int main(int argc, char **argv)
{
	int seconds = 10;
	static uint8_t seeds[256][FUZZ_MAX_INPUT];
	size_t lens[256], nseeds = 0;
	for (int i = 1; i < argc; i++) {
		if (sscanf(argv[i], "-max_total_time=%d", &seconds) == 1 || argv[i][0] == '-')
			continue;
		DIR *d = opendir(argv[i]);
		struct dirent *de;
		while (d && (de = readdir(d)) && nseeds < 256) {
			char path[4096];
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof path, "%s/%s", argv[i], de->d_name);
			lens[nseeds] = load(path, seeds[nseeds]);
			LLVMFuzzerTestOneInput(seeds[nseeds], lens[nseeds]);
			nseeds++;
		}
		if (d)
			closedir(d);
	}
	uint64_t x = 88172645463325252ULL, runs = 0;
	uint8_t buf[FUZZ_MAX_INPUT];
	time_t end = time(NULL) + seconds;
	while (time(NULL) < end) {
		for (int k = 0; k < 1000; k++, runs++) {
			size_t n = 0;
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			if (nseeds) {
				size_t s = x % nseeds;
				n = lens[s];
				memcpy(buf, seeds[s], n);
			}
			for (int m = (int)(x >> 60) + 1; m > 0; m--) {
				x ^= x << 13, x ^= x >> 7, x ^= x << 17;
				size_t pos = n ? x % n : 0;
				switch ((x >> 32) % 3) {
				case 0: if (n) buf[pos] = (uint8_t)(x >> 40); break;
				case 1: if (n < FUZZ_MAX_INPUT) { memmove(buf + pos + 1, buf + pos, n - pos); buf[pos] = (uint8_t)(x >> 48); n++; } break;
				default: if (n) { memmove(buf + pos, buf + pos + 1, n - pos - 1); n--; }
				}
			}
			LLVMFuzzerTestOneInput(buf, n);
		}
	}
	printf("fuzz driver: %llu runs over %zu seeds, no crash\n", (unsigned long long)runs, nseeds);
	return 0;
}
