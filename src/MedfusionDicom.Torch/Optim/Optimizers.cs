using MedfusionDicom.Torch.Modules;
using MedfusionDicom.Torch.Native;

namespace MedfusionDicom.Torch
{
    public static partial class torch
    {
        public static partial class optim
        {
            /// <summary>An optimizer backed by libtorch's implementation; the parameters are shared, not copied.</summary>
            public abstract class Optimizer : IDisposable
            {
                private IntPtr handle;
                private readonly Parameter[] parameterList;
                public double InitialLearningRate { get; }

                private protected unsafe Optimizer(int kind, IEnumerable<Parameter> parameters, double[] hp)
                {
                    parameterList = parameters.ToArray();
                    InitialLearningRate = hp[0];
                    var hs = parameterList.Select(p => p.Handle).ToArray();
                    fixed (IntPtr* ph = hs)
                    fixed (double* php = hp)
                        NativeMethods.Check(NativeMethods.ts_optim_new(kind, ph, hs.Length, php, out handle));
                    GC.KeepAlive(parameterList);
                }

                private IntPtr Handle => handle != IntPtr.Zero ? handle : throw new ObjectDisposedException(GetType().Name);

                public IEnumerable<Parameter> parameters() => parameterList;

                public virtual void step()
                {
                    NativeMethods.Check(NativeMethods.ts_optim_step(Handle));
                    GC.KeepAlive(parameterList);
                }

                public virtual void zero_grad(bool set_to_none = true) => NativeMethods.Check(NativeMethods.ts_optim_zero_grad(Handle, set_to_none ? 1 : 0));

                /// <summary>The learning rate of every parameter group.</summary>
                public double LearningRate
                {
                    get { NativeMethods.Check(NativeMethods.ts_optim_lr(Handle, -1, out var lr)); return lr; }
                    set { NativeMethods.Check(NativeMethods.ts_optim_lr(Handle, value, out _)); }
                }

                public void Dispose()
                {
                    if (handle != IntPtr.Zero) NativeMethods.Check(NativeMethods.ts_optim_free(handle));
                    handle = IntPtr.Zero;
                    GC.SuppressFinalize(this);
                }

                ~Optimizer() { if (handle != IntPtr.Zero) NativeMethods.ts_optim_free(handle); }
            }

            public static Modules.SGD SGD(IEnumerable<Parameter> parameters, double learningRate, double momentum = 0, double dampening = 0, double weight_decay = 0, bool nesterov = false) =>
                new(parameters, learningRate, momentum, dampening, weight_decay, nesterov);

            /// <summary>Adam with PyTorch's defaults (betas 0.9, 0.999).</summary>
            public static Modules.Adam Adam(IEnumerable<Parameter> parameters, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weight_decay = 0, bool amsgrad = false) =>
                new(1, parameters, lr, beta1, beta2, eps, weight_decay, amsgrad);

            /// <summary>AdamW with PyTorch's defaults (betas 0.9, 0.999, weight decay 0.01).</summary>
            public static Modules.AdamW AdamW(IEnumerable<Parameter> parameters, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weight_decay = 0.01, bool amsgrad = false) =>
                new(parameters, lr, beta1, beta2, eps, weight_decay, amsgrad);

            public static partial class lr_scheduler
            {
                /// <summary>Sets the optimizer's learning rate from the epoch count at each step() (closed forms of
                /// torch.optim.lr_scheduler). Constructing one applies epoch 0, as in PyTorch.</summary>
                public abstract class LRScheduler
                {
                    protected readonly Optimizer optimizer;
                    protected readonly double base_lr;
                    protected int last_epoch;
                    private double lastLr;

                    protected LRScheduler(Optimizer optimizer, int last_epoch)
                    {
                        this.optimizer = optimizer;
                        base_lr = optimizer.InitialLearningRate;
                        this.last_epoch = last_epoch;
                    }

                    /// <summary>Derived constructors call this last: applies the first epoch.</summary>
                    protected void Start() => step();

                    protected abstract double LearningRateAt(int epoch);

                    public virtual void step()
                    {
                        last_epoch++;
                        lastLr = LearningRateAt(last_epoch);
                        optimizer.LearningRate = lastLr;
                    }

                    public IEnumerable<double> get_last_lr() => [lastLr];
                    public int LastEpoch => last_epoch;
                }

                public static Modules.StepLR StepLR(Optimizer optimizer, int step_size, double gamma = 0.1, int last_epoch = -1) => new(optimizer, step_size, gamma, last_epoch);
                public static Modules.ExponentialLR ExponentialLR(Optimizer optimizer, double gamma = 0.1, int last_epoch = -1) => new(optimizer, gamma, last_epoch);
                public static Modules.CosineAnnealingLR CosineAnnealingLR(Optimizer optimizer, double T_max, double eta_min = 0, int last_epoch = -1) => new(optimizer, T_max, eta_min, last_epoch);
                public static Modules.LinearLR LinearLR(Optimizer optimizer, double start_factor = 1.0 / 3, double end_factor = 1.0, int total_iters = 5, int last_epoch = -1) => new(optimizer, start_factor, end_factor, total_iters, last_epoch);
                public static Modules.LambdaLR LambdaLR(Optimizer optimizer, Func<int, double> lr_lambda, int last_epoch = -1) => new(optimizer, lr_lambda, last_epoch);
            }
        }
    }
}

namespace MedfusionDicom.Torch.Modules
{
    public sealed class SGD : torch.optim.Optimizer
    {
        internal SGD(IEnumerable<Parameter> p, double lr, double momentum, double dampening, double weight_decay, bool nesterov)
            : base(0, p, [lr, momentum, dampening, weight_decay, nesterov ? 1 : 0]) { }
    }

    public sealed class Adam : torch.optim.Optimizer
    {
        internal Adam(int kind, IEnumerable<Parameter> p, double lr, double beta1, double beta2, double eps, double weight_decay, bool amsgrad)
            : base(kind, p, [lr, beta1, beta2, eps, weight_decay, amsgrad ? 1 : 0]) { }
    }

    public sealed class AdamW : torch.optim.Optimizer
    {
        internal AdamW(IEnumerable<Parameter> p, double lr, double beta1, double beta2, double eps, double weight_decay, bool amsgrad)
            : base(2, p, [lr, beta1, beta2, eps, weight_decay, amsgrad ? 1 : 0]) { }
    }

    public sealed class StepLR : torch.optim.lr_scheduler.LRScheduler
    {
        private readonly int stepSize; private readonly double gamma;
        internal StepLR(torch.optim.Optimizer o, int step_size, double gamma, int last_epoch) : base(o, last_epoch) { stepSize = step_size; this.gamma = gamma; Start(); }
        protected override double LearningRateAt(int epoch) => base_lr * Math.Pow(gamma, epoch / stepSize);
    }

    public sealed class ExponentialLR : torch.optim.lr_scheduler.LRScheduler
    {
        private readonly double gamma;
        internal ExponentialLR(torch.optim.Optimizer o, double gamma, int last_epoch) : base(o, last_epoch) { this.gamma = gamma; Start(); }
        protected override double LearningRateAt(int epoch) => base_lr * Math.Pow(gamma, epoch);
    }

    public sealed class CosineAnnealingLR : torch.optim.lr_scheduler.LRScheduler
    {
        private readonly double tMax, etaMin;
        internal CosineAnnealingLR(torch.optim.Optimizer o, double T_max, double eta_min, int last_epoch) : base(o, last_epoch) { tMax = T_max; etaMin = eta_min; Start(); }
        protected override double LearningRateAt(int epoch) => etaMin + (base_lr - etaMin) * (1 + Math.Cos(Math.PI * epoch / tMax)) / 2;
    }

    public sealed class LinearLR : torch.optim.lr_scheduler.LRScheduler
    {
        private readonly double start, end; private readonly int total;
        internal LinearLR(torch.optim.Optimizer o, double start_factor, double end_factor, int total_iters, int last_epoch) : base(o, last_epoch)
        { start = start_factor; end = end_factor; total = total_iters; Start(); }
        protected override double LearningRateAt(int epoch) => base_lr * (start + (end - start) * Math.Min(epoch, total) / total);
    }

    public sealed class LambdaLR : torch.optim.lr_scheduler.LRScheduler
    {
        private readonly Func<int, double> lambda;
        internal LambdaLR(torch.optim.Optimizer o, Func<int, double> lr_lambda, int last_epoch) : base(o, last_epoch) { lambda = lr_lambda; Start(); }
        protected override double LearningRateAt(int epoch) => base_lr * lambda(epoch);
    }
}
