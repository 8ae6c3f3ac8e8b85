using Allocations.Sample.Commands;

// Allocations sample and admin CLI. With no command it runs the walkthrough demo.
//   dotnet run --project Allocations.Sample [-- COMMAND [options]]
var commands = new Dictionary<string, Func<string[], Task<int>>>(StringComparer.OrdinalIgnoreCase)
{
    ["demo"] = DemoCommand.RunAsync,
    ["slurm"] = SlurmCommand.RunAsync,
    ["report"] = ReportCommand.RunAsync,
    ["export"] = ExportCommand.RunAsync,
    ["credits"] = CreditsCommand.RunAsync,
    ["access"] = AccessCommand.RunAsync,
    ["stress-worker"] = StressCommand.RunAsync,
};

if (args.Length > 0 && (args[0] is "-h" or "--help" or "help"))
{
    Console.WriteLine("usage: Allocations.Sample [COMMAND] [options]");
    // stress-worker is the reliability tests' child process, not a command for people.
    Console.WriteLine("commands: " + string.Join(", ", commands.Keys.Where(k => k != "stress-worker")));
    Console.WriteLine("with no command, runs 'demo' (options: --db FILE)");
    return 0;
}

var name = args.Length > 0 && !args[0].StartsWith('-') ? args[0] : "demo";
var rest = name == "demo" && (args.Length == 0 || args[0].StartsWith('-')) ? args : args[1..];
if (!commands.TryGetValue(name, out var command))
{
    Console.Error.WriteLine($"unknown command '{name}'; try --help");
    return 2;
}
try
{
    return await command(rest);
}
catch (Allocations.Exceptions.AllocationsException ex)
{
    Console.Error.WriteLine("error: " + ex.Message);
    return 1;
}
