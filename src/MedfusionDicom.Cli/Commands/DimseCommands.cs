using System.CommandLine;
using System.Diagnostics;
using MedfusionDicom.Dimse;
using Microsoft.Extensions.Logging;

namespace MedfusionDicom.Cli.Commands;

/// <summary>The DIMSE verbs: echo and store as an SCU, and a standalone storage SCP.</summary>
public static class DimseCommands
{
    public static IEnumerable<Command> Create() => [Echo(), Store(), Scp()];

    private static Argument<string> Host() => new("HOST") { Description = "host name or IP address of the peer" };

    private static Argument<int> Port() => new("PORT") { Description = "TCP port of the peer" };

    private static Option<string> CalledAet() => new("--called-aet") { Description = "AE title of the peer", DefaultValueFactory = _ => "ANY-SCP" };

    private static Option<string> CallingAet() => new("--calling-aet") { Description = "our AE title", DefaultValueFactory = _ => "MEDFUSION" };

    private static DicomClientOptions ClientOptions(ParseResult parse, Argument<string> host, Argument<int> port, Option<string> called, Option<string> calling)
    {
        return new()
        {
            Host = parse.GetValue(host)!,
            Port = parse.GetValue(port),
            CalledAE = parse.GetValue(called)!,
            CallingAE = parse.GetValue(calling)!,
        };
    }

    private static Command Echo()
    {
        var (host, port, called, calling) = (Host(), Port(), CalledAet(), CallingAet());
        var command = new Command("echo", "send a C-ECHO (DICOM verification) to a peer") { host, port, called, calling };
        CliAction.Set(command, async (parse, ct) =>
        {
            var options = ClientOptions(parse, host, port, called, calling);
            var watch = Stopwatch.StartNew();
            var status = await new DicomClient(options).EchoAsync(ct).ConfigureAwait(false);
            Console.WriteLine($"echo {options.Host}:{options.Port} {options.CalledAE}: status {status} ({status.Category}) in {watch.Elapsed.TotalMilliseconds:0.0} ms");
            return status.IsSuccess ? CliAction.Ok : CliAction.Failed;
        });
        return command;
    }

    private static Command Store()
    {
        var (host, port, called, calling) = (Host(), Port(), CalledAet(), CallingAet());
        var paths = new Argument<string[]>("PATH")
        {
            Description = "files or folders (recursive) to send; below a folder, files that are not DICOM are skipped",
            Arity = ArgumentArity.OneOrMore,
        };
        var command = new Command("store", "send DICOM files to a peer with C-STORE") { host, port, paths, called, calling };
        CliAction.Set(command, async (parse, ct) =>
        {
            var options = ClientOptions(parse, host, port, called, calling);
            var files = StoreInputs(parse.GetValue(paths)!);
            var watch = Stopwatch.StartNew();
            var results = await new DicomClient(options).StoreAsync(files.Select(f => f.Path), ct).ConfigureAwait(false);
            // A folder holds what the user did not pick one by one (LICENSE, README); a file named explicitly was meant.
            var outcomes = results.Zip(files, (r, f) => (Result: r, Input: f, Skipped: r.IsNotDicom && f.FromFolder)).ToList();
            var skipped = outcomes.Where(o => o.Skipped).Select(o => o.Input.DisplayName).ToList();
            var sent = outcomes.Where(o => !o.Skipped).Select(o => o.Result).ToList();
            var failed = sent.Where(r => !r.Succeeded).ToList();
            foreach (var r in failed) Console.Error.WriteLine($"medfusion: {r.Path}: {r.Error ?? $"status {r.Status}"}");
            var seconds = watch.Elapsed.TotalSeconds;
            Console.WriteLine($"stored {sent.Count - failed.Count} of {sent.Count} instances to {options.Host}:{options.Port} {options.CalledAE}, " +
                $"{failed.Count} failed, in {seconds:0.00} s ({(sent.Count - failed.Count) / Math.Max(seconds, 1e-6):0.0} instances/s)");
            if (skipped.Count > 0) Console.WriteLine(SkippedSummary(skipped));
            return failed.Count == 0 ? CliAction.Ok : CliAction.Failed;
        });
        return command;
    }

    /// <summary>A file to send, whether a folder walk found it, and how the summary names it (relative to that folder).</summary>
    private sealed record StoreInput(string Path, bool FromFolder, string DisplayName);

    private static List<StoreInput> StoreInputs(IEnumerable<string> pathsOrFolders)
    {
        var inputs = new List<StoreInput>();
        foreach (var p in pathsOrFolders)
        {
            if (Directory.Exists(p))
                inputs.AddRange(DicomClient.ExpandPaths([p]).Select(f => new StoreInput(f, true, Path.GetRelativePath(p, f))));
            else inputs.Add(new StoreInput(p, false, p));
        }
        return inputs;
    }

    private const int SkippedNamesShown = 10;

    private static string SkippedSummary(IReadOnlyList<string> names)
    {
        var shown = string.Join(", ", names.Take(SkippedNamesShown));
        var more = names.Count > SkippedNamesShown ? $" and {names.Count - SkippedNamesShown} more" : "";
        return $"skipped {names.Count} non-DICOM file{(names.Count == 1 ? "" : "s")}: {shown}{more}";
    }

    private static Command Scp()
    {
        var port = new Option<int>("--port") { Description = "TCP port to listen on", Required = true };
        var aet = new Option<string>("--aet") { Description = "our AE title (the called AE peers must use)", Required = true };
        var output = new Option<string>("--out") { Description = "folder that receives every instance as SOPInstanceUID.dcm", Required = true };
        var max = new Option<int>("--max-associations") { Description = "concurrent associations accepted", DefaultValueFactory = _ => 32 };
        var noJournal = new Option<bool>("--no-journal")
        {
            Description = "sync every instance file in place instead of through the write-ahead journal in OUT/.journal (same guarantee, slower)",
        };
        var command = new Command("scp", "run a storage SCP that writes every received instance as a Part 10 file") { port, aet, output, max, noJournal };
        CliAction.Set(command, async (parse, ct) =>
        {
            var options = new DicomServerOptions { Port = parse.GetValue(port), AETitle = parse.GetValue(aet)!, MaxAssociations = parse.GetValue(max) };
            if (!parse.GetValue(noJournal) && DicomStoreJournal.IsSupported) options.JournalDirectory = Path.Combine(parse.GetValue(output)!, ".journal");
            if (options.MaxAssociations < 1) throw new ArgumentException("--max-associations must be at least 1");
            using var logging = new StderrLoggerFactory();
            await using var server = new DicomServer(options, new DicomFileStoreHandler(parse.GetValue(output)!), logging);
            await server.StartAsync(ct).ConfigureAwait(false);
            Console.WriteLine($"scp {options.AETitle} listening on port {server.Port}, writing to {Path.GetFullPath(parse.GetValue(output)!)}");
            try
            {
                await Task.Delay(Timeout.Infinite, ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // Ctrl+C or SIGTERM: stop accepting, end the associations, exit cleanly.
            }
            await server.StopAsync().ConfigureAwait(false);
            return CliAction.Ok;
        });
        return command;
    }

    /// <summary>One line per event on stderr, so that stdout stays for the verb's own output.</summary>
    private sealed class StderrLoggerFactory : ILoggerFactory
    {
        public ILogger CreateLogger(string categoryName) => new StderrLogger();

        public void AddProvider(ILoggerProvider provider) => throw new NotSupportedException("the CLI logs to stderr only");

        public void Dispose()
        {
        }

        private sealed class StderrLogger : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                if (!IsEnabled(logLevel)) return;
                var line = $"{DateTime.UtcNow:HH:mm:ss.fff} {logLevel.ToString()[..4].ToLowerInvariant()} {formatter(state, exception)}";
                // An error is a bug to be found from this log: its stack trace is kept; warnings carry only the message.
                if (exception is not null)
                    line += logLevel >= LogLevel.Error ? Environment.NewLine + exception : " | " + exception.GetType().Name + ": " + exception.Message.ReplaceLineEndings(" ");
                Console.Error.WriteLine(line);
            }
        }
    }
}
