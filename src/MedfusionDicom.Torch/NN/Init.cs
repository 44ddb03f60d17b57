using MedfusionDicom.Torch.Modules;

namespace MedfusionDicom.Torch;

public static partial class torch
{
    public static partial class nn
    {
        public static class init
        {
            private static (long fanIn, long fanOut) Fans(Tensor t)
            {
                var s = t.shape;
                if (s.Length < 2) throw new TorchException("Fan in and fan out can not be computed for tensor with fewer than 2 dimensions");
                long receptive = 1;
                for (int k = 2; k < s.Length; k++) receptive *= s[k];
                return (s[1] * receptive, s[0] * receptive);
            }

            public static double calculate_gain(string nonlinearity, double param = 0.01) => nonlinearity switch
            {
                "linear" or "conv1d" or "conv2d" or "conv3d" or "sigmoid" or "conv_transpose2d" => 1.0,
                "tanh" => 5.0 / 3,
                "relu" => Math.Sqrt(2.0),
                "leaky_relu" => Math.Sqrt(2.0 / (1 + param * param)),
                "selu" => 3.0 / 4,
                _ => throw new TorchException($"Unsupported nonlinearity {nonlinearity}"),
            };

            private static Tensor NoGrad(Func<Tensor> f) { using (no_grad()) return f(); }

            public static Tensor uniform_(Tensor t, double low = 0, double high = 1, Generator? generator = null) => NoGrad(() => t.uniform_(low, high, generator));
            public static Tensor normal_(Tensor t, double mean = 0, double std = 1, Generator? generator = null) => NoGrad(() => t.normal_(mean, std, generator));
            public static Tensor constant_(Tensor t, Scalar value) => NoGrad(() => t.fill_(value));
            public static Tensor zeros_(Tensor t) => NoGrad(() => t.zero_());
            public static Tensor ones_(Tensor t) => NoGrad(() => t.fill_(1.0));

            public static Tensor kaiming_uniform_(Tensor t, double a = 0, string mode = "fan_in", string nonlinearity = "leaky_relu", Generator? generator = null)
            {
                var (fi, fo) = Fans(t);
                double std = calculate_gain(nonlinearity, a) / Math.Sqrt(mode == "fan_in" ? fi : fo);
                double bound = Math.Sqrt(3.0) * std;
                return uniform_(t, -bound, bound, generator);
            }

            public static Tensor kaiming_normal_(Tensor t, double a = 0, string mode = "fan_in", string nonlinearity = "leaky_relu", Generator? generator = null)
            {
                var (fi, fo) = Fans(t);
                return normal_(t, 0, calculate_gain(nonlinearity, a) / Math.Sqrt(mode == "fan_in" ? fi : fo), generator);
            }

            public static Tensor xavier_uniform_(Tensor t, double gain = 1.0, Generator? generator = null)
            {
                var (fi, fo) = Fans(t);
                double bound = gain * Math.Sqrt(6.0 / (fi + fo));
                return uniform_(t, -bound, bound, generator);
            }

            public static Tensor xavier_normal_(Tensor t, double gain = 1.0, Generator? generator = null)
            {
                var (fi, fo) = Fans(t);
                return normal_(t, 0, gain * Math.Sqrt(2.0 / (fi + fo)), generator);
            }

            /// <summary>PyTorch's default init of Linear/Conv layers: kaiming_uniform_(a=√5) for the weight, U(±1/√fan_in) for the bias.</summary>
            internal static void DefaultLayerInit(Tensor weight, Tensor? bias, long fanIn)
            {
                kaiming_uniform_(weight, Math.Sqrt(5));
                if (bias is not null)
                {
                    double bound = fanIn > 0 ? 1 / Math.Sqrt(fanIn) : 0;
                    uniform_(bias, -bound, bound);
                }
            }
        }
    }
}
