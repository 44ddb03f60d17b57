namespace MedfusionDicom.Torch.Native;

/// <summary>Operator codes of ts_op / ts_op_multi; mirrors native/torch-shim/src/ops.h.</summary>
internal enum Op
{
    Neg = 0, Exp, Log, Sqrt, Rsqrt, Abs, Sin, Cos, Tanh, Sigmoid, Relu, Silu, Sign, Floor, Ceil, Round,
    Reciprocal, Square, Log1p, Expm1, Erf, LogicalNot, Contiguous, Clone, Detach, IsNan, Trunc, Log2,
    Tan, Atan, Asin, Acos, Zero, BitwiseNot,
    Add = 100, Sub, Mul, Div, Pow, Maximum, Minimum, Eq, Ne, Lt, Le, Gt, Ge, LogicalAnd, LogicalOr,
    Remainder, FloorDivide, BitwiseAnd, BitwiseOr, BitwiseXor, Atan2, Matmul, Bmm, Mm,
    Rsub, Rdiv, Rpow, Copy, Fill,
    Sum = 400, Mean, Std, Var, Amax, Amin, Prod, Norm, LogSumExp, Argmax, Argmin, MaxAll, MinAll,
    Any, All, Cumsum,
    Reshape = 500, View, Permute, Expand, Repeat, Flatten, Squeeze, Unsqueeze, Transpose, Narrow, Slice,
    Select, IndexSelect, Gather, MaskedFill, Where, Cat, Stack, Index, IndexPut, To, Clamp, Lerp,
    Triu, Tril, Flip, Uniform, Normal, Addcmul, Addcdiv, Scatter, Roll, RepeatInterleave, AsStrided,
    Conv = 700, GroupNorm, LayerNorm, Linear, Softmax, LogSoftmax, Dropout, Embedding, Interpolate,
    AvgPool2d, MaxPool2d, AdaptiveAvgPool2d, Pad, MseLoss, L1Loss, SmoothL1Loss, BceWithLogits,
    CrossEntropy, LeakyRelu, Gelu, Softplus, Elu, Hardtanh, BatchNorm,
    MaxDim = 900, MinDim, Chunk, Split, Unbind, Sort, Topk,
    InPlace = 1000,
}
