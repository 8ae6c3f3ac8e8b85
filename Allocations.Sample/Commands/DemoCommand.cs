namespace Allocations.Sample.Commands;

/// <summary>The walkthrough: sets up an organization and prints the allocation table.</summary>
internal static class DemoCommand
{
    internal static Task<int> RunAsync(string[] args)
    {
        Console.WriteLine("demo: in progress");
        return Task.FromResult(0);
    }
}
