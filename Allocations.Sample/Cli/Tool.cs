using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using System.Globalization;
using System.Runtime.InteropServices;
using Allocations.Exceptions;
using NodaTime;

namespace Allocations.Sample.Cli;

/// <summary>The exit codes every command shares.</summary>
internal static class ExitCodes
{
    internal const int Done = 0;
    internal const int Failed = 1;
    internal const int Usage = 2;
    internal const int LockBusy = 75;

    internal const string Table = """
        Exit codes:
          0   done
          1   failed: the operation was refused or failed (one line 'error: ...' on stderr)
          2   usage: unknown option or command, missing or malformed value (one line on stderr)
          75  lock busy: another 'slurm sync' holds the cluster's lock; try again later
        """;
}

/// <summary>A usage error found after parsing (a missing --db, a malformed combination): exit 2.</summary>
internal sealed class UsageException(string message) : Exception(message);

/// <summary>A failure the tool itself detects (a missing database file, an unwritable output): exit 1.</summary>
internal sealed class ToolFailedException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>Runs the command line: strict parsing, one-line errors, the shared exit codes, signals that cancel.</summary>
internal static class Tool
{
    /// <summary>When set (by the Slurm commands), every line the tool prints about errors starts with a time stamp.</summary>
    internal static bool TimestampLines { get; set; }

    internal static string Stamp(string line) =>
        TimestampLines ? $"{SystemClock.Instance.GetCurrentInstant().ToString("uuuu-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture)} {line}" : line;

    internal static async Task<int> RunAsync(RootCommand root, string[] args)
    {
        // --help at every level prints the command's help followed by the exit-code table.
        foreach (var option in root.Options)
        {
            if (option is HelpOption help && help.Action is HelpAction builtIn)
            {
                help.Action = new ExitCodeHelpAction(builtIn);
            }
        }
        var parse = root.Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null });
        if (parse.Action is ParseErrorAction)
        {
            var path = CommandPath(parse.CommandResult);
            Console.Error.WriteLine($"allocations: {parse.Errors[0].Message}");
            Console.Error.WriteLine($"try '{path} --help'");
            return ExitCodes.Usage;
        }

        using var cancel = new CancellationTokenSource();
        var signals = 0;
        void OnSignal(PosixSignalContext context)
        {
            // The first signal cancels: the command stops, releases its lock and closes the store (nothing is
            // half-written: every write is one transaction). A second one terminates at once.
            if (Interlocked.Increment(ref signals) > 1)
            {
                return;
            }
            context.Cancel = true;
            Console.Error.WriteLine(Stamp($"{SignalName(context.Signal)} received: cancelling"));
            cancel.Cancel();
        }
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        try
        {
            // Help is captured so its usage lines name the installed command, whatever the assembly is called.
            var help = parse.Action is ExitCodeHelpAction ? new StringWriter() : null;
            var code = await parse.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = null, Output = help ?? Console.Out }, cancel.Token);
            if (help is not null)
            {
                Console.Out.Write(System.Text.RegularExpressions.Regex.Replace(help.ToString(), $@"(?m)^(\s+){System.Text.RegularExpressions.Regex.Escape(root.Name)}\b", "$1allocations"));
            }
            return code;
        }
        catch (Exception ex)
        {
            return Report(ex, cancel.IsCancellationRequested);
        }
    }

    private static int Report(Exception ex, bool cancelled)
    {
        var debug = Environment.GetEnvironmentVariable("ALLOCATIONS_DEBUG") is "1" or "true";
        var (code, line) = ex switch
        {
            UsageException => (ExitCodes.Usage, "allocations: " + ex.Message),
            OperationCanceledException when cancelled => (ExitCodes.Failed, "error: cancelled; nothing more was written"),
            AllocationsException or ToolFailedException => (ExitCodes.Failed, "error: " + OneLine(ex.Message)),
            IOException or UnauthorizedAccessException => (ExitCodes.Failed, "error: " + OneLine(ex.Message)),
            _ => (ExitCodes.Failed, $"error: unexpected {ex.GetType().Name}: {OneLine(ex.Message)} (set ALLOCATIONS_DEBUG=1 for details)"),
        };
        Console.Error.WriteLine(Stamp(line));
        if (debug)
        {
            Console.Error.WriteLine(ex.ToString());
        }
        return code;
    }

    internal static string OneLine(string text) => text.ReplaceLineEndings(" ").Trim();

    private static string SignalName(PosixSignal signal) => signal switch
    {
        PosixSignal.SIGINT => "SIGINT",
        PosixSignal.SIGTERM => "SIGTERM",
        _ => signal.ToString(),
    };

    private static string CommandPath(System.CommandLine.Parsing.CommandResult? result)
    {
        var names = new List<string>();
        for (var r = result; r is not null; r = r.Parent as System.CommandLine.Parsing.CommandResult)
        {
            names.Add(r.Command is RootCommand ? "allocations" : r.Command.Name);
        }
        names.Reverse();
        return names.Count == 0 ? "allocations" : string.Join(' ', names);
    }

    /// <summary>The built-in help, then the exit-code table.</summary>
    private sealed class ExitCodeHelpAction(HelpAction inner) : SynchronousCommandLineAction
    {
        public override bool ClearsParseErrors => true;

        public override int Invoke(ParseResult parseResult)
        {
            inner.Invoke(parseResult);
            var output = parseResult.InvocationConfiguration.Output;
            output.WriteLine(ExitCodes.Table);
            return ExitCodes.Done;
        }
    }
}
