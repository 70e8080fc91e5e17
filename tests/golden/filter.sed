# tests/golden/filter.sed - the variable parts of the outputs that
# tests/integ/golden.sh compares with the .ref files beside this file.
# golden.sh first replaces its temporary directory with @T@ (sed -e
# "s|$T|@T@|g"), then applies this filter, then sorts the records of each
# publish -n PREREQUISITE SECTION (they are the RRset as the server sent
# it, and BIND rotates its order).  Everything else is fixed by the
# fixtures: the key files are tests/fuzz/corpus/pem_key/rsa2048-pkcs1.pem
# and ec-p256-sec1.pem (fixed SPKI hashes), the state files are
# tests/fuzz/corpus/state/*.state (fixed rollover ids, keys and records;
# golden.sh moves every time in them back by a fixed 1000 days), the test
# BIND runs on fixed addresses in the test's own network namespace.
# After an intended change of an output, regenerate the .ref files with
#   PFTLS_GOLDEN_UPDATE=1 netns-run tests/run integ golden
# and review `git diff tests/golden`.

# status --json: the moment the status was taken.
s/"now":[0-9][0-9]*/"now":@NOW@/
