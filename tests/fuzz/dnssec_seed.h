/*
 * dnssec_seed.h - written by tests/fuzz/gen-dnssec-seeds with the seeds of
 * tests/fuzz/corpus/dnssec/ (regenerate both together): the trust anchor of
 * the seeds' zones and the signed records a validating chain must hold.
 */
#define SEED_ANCHOR                                                                                \
	"test. IN DS 10930 13 2 CE696FB00A28E2FD99154BE29A84B6DD9901F6B6521C3BDDBA243DA57AB48901"
static const char *const seed_tlsa[] = {
	"_25._tcp.mx.child.test. 3600 IN TLSA 3 1 1 "
	"0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0",
	NULL,
};
static const char *const seed_child_dnskey[] = {
	"child.test. 3600 IN DNSKEY 256 3 13 "
	"KKhhQnadvxH786LINt/s+tyJ/paDUB3m9m2W9eGSSsZzZeJF5bwZh5DJeasXApHAD8rtDZFG7CIQ8FKJrIDykQ== "
	";{id = 16710 (zsk), size = 256b}",
	"child.test. 3600 IN DNSKEY 257 3 13 "
	"M/4h9H3bxe8qCN4zk3C72qWbbObqDAlw9dy4RsLY9dmCMm7ZORFyuO3CRjQXsdB8OiEEyGImyN5NtYvQ6JXFHg== "
	";{id = 3148 (ksk), size = 256b}",
	NULL,
};
static const char *const seed_parent_dnskey[] = {
	"test. 3600 IN DNSKEY 256 3 13 "
	"gLVNrpzgGZqfTfRmmFofCvRDZfjgrbHrTQAVIwZc8+Rdnyiqep7OPqANOFFzrql32LSo2qyvFu8kQqdvJKLBwA== "
	";{id = 55597 (zsk), size = 256b}",
	"test. 3600 IN DNSKEY 257 3 13 "
	"avFgCwMqhmlxkbgUMmqoGR6l4uRBjpDtEkD2M5+T/+V6dF74NEQMU6E+keZRZq8TrA/NMpSl+N24ZboS9QaWDQ== "
	";{id = 10930 (ksk), size = 256b}",
	NULL,
};
static const char *const seed_child_ds[] = {
	"child.test. 3600 IN DS 3148 13 2 "
	"4c5b0afd235f9cbe893ee723fabf200ed390105dbe7c91f2ffb2b60faa511bdf",
	NULL,
};
static const char *const seed_unsigned_nsec[] = {
	"unsigned.test. 300 IN NSEC test. NS RRSIG NSEC ",
	NULL,
};
static const char *const seed_unsigned_nsec3[] = {
	"CTNQS4MFS0JOQP7J9QQE7QUI0AENBD2M.test. 300 IN NSEC3 1 0 5 aabbccdd  "
	"foq3hnf9s5gv2n40kd294muugl5rnuim NS ",
	NULL,
};
