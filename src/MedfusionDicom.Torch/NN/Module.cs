using System.Reflection;
using MedfusionDicom.Torch.Modules;

namespace MedfusionDicom.Torch;

public static partial class torch
{
    public static partial class nn
    {
        /// <summary>
        /// Base of all modules: named parameters, buffers and submodules (registered explicitly or, with
        /// <see cref="RegisterComponents"/>, from the fields of the derived class, as in TorchSharp).
        /// </summary>
        public abstract class Module : IDisposable
        {
            private readonly OrderedDictionary<string, Modules.Parameter?> parametersByName = new();
            private readonly OrderedDictionary<string, Tensor?> buffersByName = new();
            private readonly HashSet<string> nonPersistent = new();
            private readonly OrderedDictionary<string, Module> modulesByName = new();
            private readonly string name;

            protected Module(string name) { this.name = name; }

            public virtual string GetName() => name;
            public bool training { get; private set; } = true;

            // ---- registration ----
            public void register_parameter(string name, Modules.Parameter? param)
            {
                CheckName(name);
                parametersByName[name] = param;
            }

            public void register_buffer(string name, Tensor? tensor, bool persistent = true)
            {
                CheckName(name);
                tensor?.DetachFromDisposeScope();
                buffersByName[name] = tensor;
                if (!persistent) nonPersistent.Add(name); else nonPersistent.Remove(name);
            }

            public void register_module(string name, Module submodule)
            {
                CheckName(name);
                modulesByName[name] = submodule;
            }

            private static void CheckName(string name)
            {
                if (string.IsNullOrEmpty(name) || name.Contains('.'))
                    throw new TorchException($"module member name must be non-empty and contain no '.', got \"{name}\"");
            }

            /// <summary>Registers every field of the derived class that holds a Module, Parameter or (as a buffer) Tensor.</summary>
            protected void RegisterComponents()
            {
                foreach (var f in ComponentFields(GetType()))
                {
                    var n = FieldName(f);
                    switch (f.GetValue(this))
                    {
                        case Module m when !modulesByName.ContainsKey(n): register_module(n, m); break;
                        case Modules.Parameter p when !parametersByName.ContainsKey(n): register_parameter(n, p); break;
                        case Tensor t and not Modules.Parameter when !buffersByName.ContainsKey(n): register_buffer(n, t); break;
                    }
                }
            }

            private static IEnumerable<FieldInfo> ComponentFields(Type type)
            {
                var chain = new List<Type>();
                for (var t = type; t is not null && t != typeof(Module); t = t.BaseType) chain.Add(t);
                chain.Reverse();
                foreach (var t in chain)
                    foreach (var f in t.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
                        if (typeof(Module).IsAssignableFrom(f.FieldType) || typeof(Tensor).IsAssignableFrom(f.FieldType))
                            yield return f;
            }

            private static string FieldName(FieldInfo f) =>
                f.Name.StartsWith('<') && f.Name.Contains(">k__BackingField", StringComparison.Ordinal) ? f.Name[1..f.Name.IndexOf('>')] : f.Name;

            // ---- enumeration ----
            public virtual IEnumerable<(string name, Modules.Parameter parameter)> named_parameters(bool recurse = true)
            {
                var seen = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
                foreach (var (prefix, m) in Walk(recurse))
                    foreach (var (n, p) in m.parametersByName)
                        if (p is not null && seen.Add(p)) yield return (prefix + n, p);
            }

            public virtual IEnumerable<Modules.Parameter> parameters(bool recurse = true) => named_parameters(recurse).Select(np => np.parameter);

            public virtual IEnumerable<(string name, Tensor buffer)> named_buffers(bool recurse = true, bool include_nonpersistent = true)
            {
                foreach (var (prefix, m) in Walk(recurse))
                    foreach (var (n, b) in m.buffersByName)
                        if (b is not null && (include_nonpersistent || !m.nonPersistent.Contains(n))) yield return (prefix + n, b);
            }

            public virtual IEnumerable<Tensor> buffers(bool recurse = true) => named_buffers(recurse).Select(nb => nb.buffer);
            public virtual IEnumerable<(string name, Module module)> named_children() => modulesByName.Select(kv => (kv.Key, kv.Value));
            public virtual IEnumerable<Module> children() => modulesByName.Values;

            public virtual IEnumerable<(string name, Module module)> named_modules()
            {
                foreach (var (prefix, m) in Walk(true)) yield return (prefix.TrimEnd('.'), m);
            }

            public virtual IEnumerable<Module> modules() => named_modules().Select(nm => nm.module);

            private IEnumerable<(string prefix, Module module)> Walk(bool recurse, string prefix = "")
            {
                yield return (prefix, this);
                if (!recurse) yield break;
                foreach (var (n, m) in modulesByName)
                    foreach (var x in m.Walk(true, prefix + n + ".")) yield return x;
            }

            // ---- state ----
            /// <summary>Parameters and persistent buffers by dotted name (the tensors themselves, not copies).</summary>
            public virtual Dictionary<string, Tensor> state_dict(Dictionary<string, Tensor>? destination = null, string? prefix = null)
            {
                destination ??= new Dictionary<string, Tensor>();
                foreach (var (n, p) in named_parameters()) destination[(prefix ?? "") + n] = p;
                foreach (var (n, b) in named_buffers(true, include_nonpersistent: false)) destination[(prefix ?? "") + n] = b;
                return destination;
            }

            /// <summary>Copies values into the parameters and buffers; strict: every key must match both ways.</summary>
            public virtual (IList<string> missing_keys, IList<string> unexpected_keys) load_state_dict(Dictionary<string, Tensor> source, bool strict = true, IList<string>? skip = null)
            {
                var own = state_dict();
                var missing = own.Keys.Where(k => !source.ContainsKey(k) && (skip is null || !skip.Contains(k))).ToList();
                var unexpected = source.Keys.Where(k => !own.ContainsKey(k)).ToList();
                if (strict && (missing.Count > 0 || unexpected.Count > 0))
                    throw new TorchException($"Error(s) in loading state_dict for {GetName()}: missing keys: [{string.Join(", ", missing)}]; unexpected keys: [{string.Join(", ", unexpected)}]");
                using (no_grad())
                {
                    foreach (var (k, target) in own)
                    {
                        if (!source.TryGetValue(k, out var value) || (skip is not null && skip.Contains(k))) continue;
                        var ts = target.shape;
                        var vs = value.shape;
                        if (!ts.SequenceEqual(vs))
                            throw new TorchException($"size mismatch for {k}: copying a param with shape [{string.Join(", ", vs)}] from checkpoint, the shape in current model is [{string.Join(", ", ts)}].");
                        target.copy_(value);
                    }
                }
                return (missing, unexpected);
            }

            public virtual Module train(bool on = true)
            {
                foreach (var m in modules()) m.training = on;
                return this;
            }

            public virtual Module eval() => train(false);

            public virtual void zero_grad(bool set_to_none = true)
            {
                foreach (var p in parameters()) p.zero_grad(set_to_none);
            }

            public Module apply(Action<Module> fn)
            {
                foreach (var m in children()) m.apply(fn);
                fn(this);
                return this;
            }

            /// <summary>Moves or converts parameters and buffers (floating ones only for a dtype), updating fields that hold them.</summary>
            internal void MoveTo(Device? device, ScalarType? dtype)
            {
                foreach (var m in modules()) m.MoveOwn(device, dtype);
            }

            private void MoveOwn(Device? device, ScalarType? dtype)
            {
                var replaced = new Dictionary<object, object>(ReferenceEqualityComparer.Instance);
                foreach (var n in parametersByName.Keys.ToList())
                {
                    var p = parametersByName[n];
                    if (p is null || !Needs(p, device, dtype)) continue;
                    Modules.Parameter np;
                    using (no_grad())
                    using (var moved = Convert(p, device, dtype))
                        np = new Parameter(moved, p.requires_grad);
                    parametersByName[n] = np;
                    replaced[p] = np;
                    p.Dispose();
                }
                foreach (var n in buffersByName.Keys.ToList())
                {
                    var b = buffersByName[n];
                    if (b is null || !Needs(b, device, dtype)) continue;
                    var nb = Convert(b, device, dtype).DetachFromDisposeScope();
                    buffersByName[n] = nb;
                    replaced[b] = nb;
                    b.Dispose();
                }
                if (replaced.Count == 0) return;
                foreach (var f in ComponentFields(GetType()))
                    if (f.GetValue(this) is { } v && replaced.TryGetValue(v, out var nv)) f.SetValue(this, nv);
            }

            private static bool Needs(Tensor t, Device? device, ScalarType? dtype) =>
                (device is not null && !t.device.Equals(device) && !(device.index < 0 && t.device_type == device.type)) ||
                (dtype.HasValue && t.is_floating_point() && t.dtype != dtype.Value);

            private static Tensor Convert(Tensor t, Device? device, ScalarType? dtype) =>
                t.to(dtype.HasValue && t.is_floating_point() ? dtype.Value : t.dtype, device ?? t.device);

            public void Dispose()
            {
                Dispose(true);
                GC.SuppressFinalize(this);
            }

            protected virtual void Dispose(bool disposing)
            {
                if (!disposing) return;
                foreach (var m in modulesByName.Values) m.Dispose();
                foreach (var p in parametersByName.Values) p?.Dispose();
                foreach (var b in buffersByName.Values) b?.Dispose();
                modulesByName.Clear();
                parametersByName.Clear();
                buffersByName.Clear();
            }
        }

        /// <summary>A module with a forward of one argument (TorchSharp's Module&lt;T, TResult&gt;).</summary>
        public abstract class Module<T, TResult> : Module
        {
            protected Module(string name) : base(name) { }
            public abstract TResult forward(T input);
            public TResult call(T input) => forward(input);
        }

        public abstract class Module<T1, T2, TResult> : Module
        {
            protected Module(string name) : base(name) { }
            public abstract TResult forward(T1 input1, T2 input2);
            public TResult call(T1 input1, T2 input2) => forward(input1, input2);
        }

        public abstract class Module<T1, T2, T3, TResult> : Module
        {
            protected Module(string name) : base(name) { }
            public abstract TResult forward(T1 input1, T2 input2, T3 input3);
            public TResult call(T1 input1, T2 input2, T3 input3) => forward(input1, input2, input3);
        }

        /// <summary>A parameter: a leaf tensor that requires grad, sharing data with the given tensor.</summary>
        public static Modules.Parameter Parameter(Tensor data, bool requires_grad = true) => new(data, requires_grad);
    }
}

/// <summary>Module conveniences that keep the module's own type (as TorchSharp's extension methods).</summary>
public static class ModuleExtensionMethods
{
    public static T to<T>(this T module, torch.Device device) where T : torch.nn.Module { module.MoveTo(device, null); return module; }
    public static T to<T>(this T module, torch.ScalarType dtype) where T : torch.nn.Module { module.MoveTo(null, dtype); return module; }
    public static T to<T>(this T module, torch.Device device, torch.ScalarType dtype) where T : torch.nn.Module { module.MoveTo(device, dtype); return module; }
    public static T to<T>(this T module, DeviceType deviceType, int deviceIndex = -1) where T : torch.nn.Module => module.to(new torch.Device(deviceType, deviceIndex));
    public static T cpu<T>(this T module) where T : torch.nn.Module => module.to(torch.CPU);
    public static T cuda<T>(this T module, int deviceIndex = -1) where T : torch.nn.Module => module.to(new torch.Device(DeviceType.CUDA, deviceIndex));
    public static T @float<T>(this T module) where T : torch.nn.Module => module.to(torch.ScalarType.Float32);
    public static T half<T>(this T module) where T : torch.nn.Module => module.to(torch.ScalarType.Float16);
    public static T bfloat16<T>(this T module) where T : torch.nn.Module => module.to(torch.ScalarType.BFloat16);
    public static T @double<T>(this T module) where T : torch.nn.Module => module.to(torch.ScalarType.Float64);
}

/// <summary>Loading and saving module weights in PyTorch's formats (the names of TorchSharp.PyBridge).</summary>
public static class ModuleSerializationExtensions
{
    /// <summary>Loads a torch.save file (.pt/.pth/.ckpt; Lightning's "state_dict" is found automatically).</summary>
    public static T load_py<T>(this T module, string location, bool strict = true, string? key = null, string? stripPrefix = null) where T : torch.nn.Module
    {
        LoadInto(module, Serialization.PyTorchCheckpoint.LoadStateDict(location, key, stripPrefix), strict);
        return module;
    }

    public static T load_safetensors<T>(this T module, string location, bool strict = true) where T : torch.nn.Module
    {
        LoadInto(module, Serialization.Safetensors.Load(location), strict);
        return module;
    }

    private static void LoadInto(torch.nn.Module module, Dictionary<string, torch.Tensor> sd, bool strict)
    {
        try { module.load_state_dict(sd, strict); }
        finally { foreach (var t in sd.Values) t.Dispose(); }
    }

    public static T save_safetensors<T>(this T module, string location, IReadOnlyDictionary<string, string>? metadata = null) where T : torch.nn.Module
    {
        Serialization.Safetensors.Save(location, module.state_dict(), metadata);
        return module;
    }
}
