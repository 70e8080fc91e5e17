/*
 * dnssec_seed.h - written by tests/fuzz/gen-dnssec-seeds with the seeds of
 * tests/fuzz/corpus/dnssec/ (regenerate both together): the trust anchor of
 * the seeds' zones and the signed records a validating chain must hold.
 */
#define SEED_ANCHOR "test. IN DS 24911 13 2 93004CD78D12F34F5BE5FE8DB8766D2578C868F0FFC9409035C085461D45309D"
static const char *const seed_tlsa[] = {
	"_25._tcp.mx.child.test. 3600 IN TLSA 3 1 1 0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0",
	NULL,
};
static const char *const seed_child_dnskey[] = {
	"child.test. 3600 IN DNSKEY 256 3 13 CJPRjBzXDo/riNwM4wLl8w9KrFP5ph793/6qub6Gfe0wB7KDbnByAXd2R9pBTkcptZbWvHPBXDPboYJGYDru6g== ;{id = 18857 (zsk), size = 256b}",
	"child.test. 3600 IN DNSKEY 257 3 13 Jb7NHjd30QO5mh+u1fspQ8PqEQyC0Kl1wyeyMPIRxMGTqppUUm5mlNQt+aKn91dxbzIxYPJD/jCSXhA9jlYwXA== ;{id = 44008 (ksk), size = 256b}",
	NULL,
};
static const char *const seed_parent_dnskey[] = {
	"test. 3600 IN DNSKEY 256 3 13 8s2Zjbc7hBBW7dzojjTT1ygaPGV3Mtl4R5iAUqGVNEPHC0cb4YwBSbQWSsMD+kOjvYoZfcwbc4cG4P724FVCrA== ;{id = 11134 (zsk), size = 256b}",
	"test. 3600 IN DNSKEY 257 3 13 ideUU7QVaUkTR6UAJO7PNOPhOTa7yoqj1dxRd4bsFZDZhukeV4yS+5humuaT2tHZfNJw771bx8iVlNY4rHV8lA== ;{id = 24911 (ksk), size = 256b}",
	NULL,
};
static const char *const seed_child_ds[] = {
	"child.test. 3600 IN DS 44008 13 2 a65bd87098d549408873344a249ad223454d9651e7796b2d56eac7f2ea16b51a",
	NULL,
};
static const char *const seed_unsigned_nsec[] = {
	"unsigned.test. 300 IN NSEC test. NS RRSIG NSEC ",
	NULL,
};
