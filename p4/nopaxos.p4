/* nopaxos-rs: the NOPaxos OUM sequencer as a switch program, one entry point for two
 * targets (docs/p4.md):
 *   bmv2 (v1model):  p4c-bm2-ss p4/nopaxos.p4 -o nopaxos.json
 *   Tofino (TNA):    the Tofino compiler (bf-p4c) defines __TARGET_TOFINO__
 * Both share the headers (include/headers.p4, the layout of docs/wire-format.md), the
 * parser states (include/parser_states.p4) and the checks (include/classify.p4). */
#include <core.p4>

#if defined(__TARGET_TOFINO__)
#include <tna.p4>
#include "include/headers.p4"
#include "include/classify.p4"
#include "targets/tna.p4"
#else
#include <v1model.p4>
#include "include/headers.p4"
#include "include/classify.p4"
#include "targets/v1model.p4"
#endif
