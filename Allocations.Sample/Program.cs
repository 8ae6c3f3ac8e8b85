using System.CommandLine;
using Allocations.Sample.Cli;
using Allocations.Sample.Commands;

// The allocations admin tool. With no arguments at all it runs the walkthrough demo on its own file.
var root = new RootCommand("allocations: set up and run an Allocations store (organizations, units, SKUs, rates, allocations, grants), record usage, import from Slurm, report.\n\nWith no arguments, runs the walkthrough demo ('allocations demo').");
foreach (var command in SetupCommands.All())
{
    root.Add(command);
}
root.Add(UsageCommands.Usage());
foreach (var command in ReadCommands.All())
{
    root.Add(command);
}
root.Add(AlertCommands.Alerts());
root.Add(SlurmCommand.Slurm());
root.Add(DemoCommands.Demo());
root.SetAction((_, _) => DemoCommand.RunAsync(null));
return await Tool.RunAsync(root, args);
