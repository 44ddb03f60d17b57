using System.Buffers.Binary;
using System.Globalization;
using System.Numerics;
using System.Text;

namespace MedfusionDicom.Torch.Serialization;

/// <summary>An instance of a Python class the unpickler does not know: recorded, never constructed or run.</summary>
public sealed class PickleObject
{
    public string Module { get; }
    public string Name { get; }
    public object?[] Args { get; internal set; } = [];
    public object? State { get; internal set; }
    public Dictionary<object, object?> Items { get; } = new();
    public List<object?> List { get; } = new();
    internal PickleObject(string module, string name) { Module = module; Name = name; }
    public override string ToString() => $"{Module}.{Name}";
}

/// <summary>A reference to a Python global (class or function), as the unpickler saw it.</summary>
public sealed record PickleGlobal(string Module, string Name)
{
    public override string ToString() => $"{Module}.{Name}";
}

/// <summary>
/// A restricted unpickler (protocols 0–5, the opcodes torch.save and Lightning use). It never imports or calls
/// anything: a few globals (OrderedDict, torch's tensor rebuild functions, _codecs.encode, torch.Size/device)
/// are interpreted, every other one becomes inert data (<see cref="PickleObject"/>).
/// </summary>
internal sealed class Unpickler
{
    private readonly byte[] data;
    private int pos;
    private readonly List<object?> stack = new();
    private readonly List<int> marks = new();
    private readonly Dictionary<long, object?> memo = new();
    private readonly Func<object?, object?> persistentLoad;
    private readonly Func<PickleGlobal, object?[], object?> reduce;

    private static readonly object Mark = new();

    public Unpickler(byte[] data, Func<object?, object?> persistentLoad, Func<PickleGlobal, object?[], object?> reduce)
    {
        this.data = data;
        this.persistentLoad = persistentLoad;
        this.reduce = reduce;
    }

    private Exception Bad(string what) => new TorchException($"pickle: {what} (at byte {pos})");
    private byte U8() => pos < data.Length ? data[pos++] : throw Bad("unexpected end of data");
    private ReadOnlySpan<byte> Take(long n)
    {
        if (n < 0 || pos + n > data.Length) throw Bad("unexpected end of data");
        var s = data.AsSpan(pos, (int)n);
        pos += (int)n;
        return s;
    }
    private string Line()
    {
        int end = Array.IndexOf(data, (byte)'\n', pos);
        if (end < 0) throw Bad("unterminated line");
        var s = Encoding.ASCII.GetString(data, pos, end - pos);
        pos = end + 1;
        return s;
    }
    private void Push(object? o) => stack.Add(o);
    private object? Pop()
    {
        if (stack.Count == 0) throw Bad("stack underflow");
        var o = stack[^1];
        stack.RemoveAt(stack.Count - 1);
        return o;
    }
    private object? Top => stack.Count > 0 ? stack[^1] : throw Bad("stack underflow");
    private List<object?> PopMark()
    {
        if (marks.Count == 0) throw Bad("MARK missing");
        int m = marks[^1];
        marks.RemoveAt(marks.Count - 1);
        var items = stack.GetRange(m, stack.Count - m);
        stack.RemoveRange(m, stack.Count - m);
        return items;
    }

    public object? Load()
    {
        while (true)
        {
            byte op = U8();
            switch (op)
            {
                case 0x80: U8(); break;                                  // PROTO
                case 0x95: Take(8); break;                               // FRAME
                case (byte)'.': return Pop();                            // STOP
                case (byte)'(': marks.Add(stack.Count); break;           // MARK
                case (byte)'0': Pop(); break;                            // POP
                case (byte)'1': PopMark(); break;                        // POP_MARK
                case (byte)'2': Push(Top); break;                        // DUP
                case (byte)'N': Push(null); break;
                case 0x88: Push(true); break;
                case 0x89: Push(false); break;
                case (byte)'J': Push((long)BinaryPrimitives.ReadInt32LittleEndian(Take(4))); break;
                case (byte)'K': Push((long)U8()); break;
                case (byte)'M': Push((long)BinaryPrimitives.ReadUInt16LittleEndian(Take(2))); break;
                case 0x8a: Push(Long(Take(U8()))); break;                // LONG1
                case 0x8b: Push(Long(Take(BinaryPrimitives.ReadInt32LittleEndian(Take(4))))); break;
                case (byte)'I': Push(IntLine(Line())); break;            // INT (protocol 0; 01/00 are booleans)
                case (byte)'L': Push(long.Parse(Line().TrimEnd('L'), CultureInfo.InvariantCulture)); break;
                case (byte)'G': Push(BinaryPrimitives.ReadDoubleBigEndian(Take(8))); break;
                case (byte)'F': Push(double.Parse(Line(), CultureInfo.InvariantCulture)); break;
                case (byte)'X': Push(Encoding.UTF8.GetString(Take(BinaryPrimitives.ReadUInt32LittleEndian(Take(4))))); break;
                case 0x8c: Push(Encoding.UTF8.GetString(Take(U8()))); break;
                case 0x8d: Push(Encoding.UTF8.GetString(Take((long)BinaryPrimitives.ReadUInt64LittleEndian(Take(8))))); break;
                case (byte)'T': Push(Encoding.Latin1.GetString(Take(BinaryPrimitives.ReadInt32LittleEndian(Take(4))))); break;
                case (byte)'U': Push(Encoding.Latin1.GetString(Take(U8()))); break;
                case (byte)'B': Push(Take(BinaryPrimitives.ReadUInt32LittleEndian(Take(4))).ToArray()); break;
                case (byte)'C': Push(Take(U8()).ToArray()); break;
                case 0x8e: case 0x96: Push(Take((long)BinaryPrimitives.ReadUInt64LittleEndian(Take(8))).ToArray()); break;
                case (byte)'}': Push(new Dictionary<object, object?>()); break;
                case (byte)']': Push(new List<object?>()); break;
                case (byte)')': Push(Array.Empty<object?>()); break;
                case 0x8f: Push(new HashSet<object?>()); break;           // EMPTY_SET
                case 0x90: { var items = PopMark(); Add(Top, items); break; }  // ADDITEMS
                case 0x91: Push(new HashSet<object?>(PopMark())); break; // FROZENSET
                case (byte)'t': Push(PopMark().ToArray()); break;
                case 0x85: Push(new[] { Pop() }); break;
                case 0x86: { var b = Pop(); var a = Pop(); Push(new[] { a, b }); break; }
                case 0x87: { var c = Pop(); var b = Pop(); var a = Pop(); Push(new[] { a, b, c }); break; }
                case (byte)'l': Push(PopMark()); break;
                case (byte)'d': { var items = PopMark(); var d = new Dictionary<object, object?>(); SetItems(d, items); Push(d); break; }
                case (byte)'a': { var v = Pop(); Add(Top, [v]); break; }
                case (byte)'e': { var items = PopMark(); Add(Top, items); break; }
                case (byte)'s': { var v = Pop(); var k = Pop(); SetItems(Top, [k, v]); break; }
                case (byte)'u': { var items = PopMark(); SetItems(Top, items); break; }
                case (byte)'c': { var module = Line(); var name = Line(); Push(new PickleGlobal(module, name)); break; }
                case 0x93: { var name = Pop() as string; var module = Pop() as string; Push(new PickleGlobal(module ?? "?", name ?? "?")); break; }
                case (byte)'R': { var args = Pop() as object?[] ?? throw Bad("REDUCE arguments are not a tuple"); Push(Call(Pop(), args)); break; }
                case 0x81: { var args = Pop() as object?[] ?? []; Push(Call(Pop(), args)); break; }   // NEWOBJ
                case 0x92: { Pop(); var args = Pop() as object?[] ?? []; Push(Call(Pop(), args)); break; }  // NEWOBJ_EX
                case (byte)'b': { var state = Pop(); Build(Top, state); break; }
                case (byte)'Q': Push(persistentLoad(Pop())); break;      // BINPERSID
                case (byte)'P': Push(persistentLoad(Line())); break;     // PERSID
                case (byte)'q': memo[U8()] = Top; break;
                case (byte)'r': memo[BinaryPrimitives.ReadUInt32LittleEndian(Take(4))] = Top; break;
                case (byte)'p': memo[long.Parse(Line(), CultureInfo.InvariantCulture)] = Top; break;
                case 0x94: memo[memo.Count] = Top; break;                // MEMOIZE
                case (byte)'h': Push(Get(U8())); break;
                case (byte)'j': Push(Get(BinaryPrimitives.ReadUInt32LittleEndian(Take(4)))); break;
                case (byte)'g': Push(Get(long.Parse(Line(), CultureInfo.InvariantCulture))); break;
                default: throw Bad($"unsupported opcode 0x{op:x2}");
            }
        }
    }

    private object? Get(long key) => memo.TryGetValue(key, out var v) ? v : throw Bad($"memo key {key} missing");

    private static object IntLine(string s) => s switch { "01" => true, "00" => false, _ => long.Parse(s, CultureInfo.InvariantCulture) };

    private static object Long(ReadOnlySpan<byte> b)
    {
        if (b.Length == 0) return 0L;
        var v = new BigInteger(b, isUnsigned: false, isBigEndian: false);
        return v >= long.MinValue && v <= long.MaxValue ? (long)v : v;
    }

    private object? Call(object? callable, object?[] args)
    {
        if (callable is not PickleGlobal g) throw Bad($"cannot call {callable?.GetType().Name ?? "None"}");
        return reduce(g, args);
    }

    private void Add(object? target, List<object?> items)
    {
        switch (target)
        {
            case List<object?> l: l.AddRange(items); break;
            case HashSet<object?> s: foreach (var i in items) s.Add(i); break;
            case PickleObject o: o.List.AddRange(items); break;
            default: throw Bad($"cannot append to {target?.GetType().Name ?? "None"}");
        }
    }

    private void SetItems(object? target, List<object?> items)
    {
        var d = target switch
        {
            Dictionary<object, object?> dict => dict,
            PickleObject o => o.Items,
            _ => throw Bad($"cannot set items on {target?.GetType().Name ?? "None"}"),
        };
        for (int k = 0; k + 1 < items.Count; k += 2) d[items[k] ?? PickleNone.Value] = items[k + 1];
    }

    private void Build(object? target, object? state)
    {
        switch (target)
        {
            case PickleObject o: o.State = state; break;
            default: break; // Python attributes of dicts and tensors (e.g. a state dict's _metadata) are not needed
        }
    }
}

/// <summary>Python's None as a dictionary key.</summary>
public sealed class PickleNone
{
    public static readonly PickleNone Value = new();
    private PickleNone() { }
    public override string ToString() => "None";
}
