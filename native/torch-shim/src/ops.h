// Operator codes of ts_op / ts_op_multi, expanded from ops.def (which the C# side generates its enum Op from).
#pragma once
namespace ts {
enum Op : int {
#define TS_OP(native, managed) native,
#define TS_OP_AT(native, managed, code) native = code,
#include "ops.def"
#undef TS_OP
#undef TS_OP_AT
};
}  // namespace ts
