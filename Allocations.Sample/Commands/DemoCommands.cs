using System.CommandLine;

namespace Allocations.Sample.Commands;

/// <summary>Where the demos keep their files: one per demo in the per-user data folder.</summary>
internal static class DemoFiles
{
    /// <summary>The default file of a demo: <c>Allocations/NAME</c> in the user's local application data folder.</summary>
    internal static string DefaultPath(string name)
    {
        var root = Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData);
        if (string.IsNullOrEmpty(root))
        {
            root = Path.GetTempPath();
        }
        var directory = Path.Combine(root, "Allocations");
        Directory.CreateDirectory(directory);
        return Path.Combine(directory, name);
    }
}

/// <summary>The <c>demo</c> commands: the main walkthrough, the credits product and access control. Only the demos
/// seed sample data, and only into their own files (or the file given with --db).</summary>
internal static class DemoCommands
{
    internal static Command Demo()
    {
        var demo = new Command("demo", "Run the walkthrough demo on its own file (the default when no command is given)");
        var db = DemoDb("demo.db");
        demo.Add(db);
        demo.SetAction((p, _) => DemoCommand.RunAsync(p.GetValue(db)));

        var credits = new Command("credits", "A credits product on the same engine: presets, top-ups and a month's bill");
        var creditsDb = DemoDb("demo-credits.db");
        var zone = new Option<string?>("--zone") { Description = "Time zone of the bill's weeks (tz database id; default UTC)", HelpName = "TZ" };
        credits.Add(creditsDb);
        credits.Add(zone);
        credits.SetAction((p, _) => CreditsCommand.RunAsync(p.GetValue(creditsDb), p.GetValue(zone)));
        demo.Add(credits);

        var access = new Command("access", "Access control: grants, a user who may Use but not Admin, one who sees nothing, the journal");
        var accessDb = DemoDb("demo-access.db");
        access.Add(accessDb);
        access.SetAction((p, _) => AccessCommand.RunAsync(p.GetValue(accessDb)));
        demo.Add(access);
        return demo;
    }

    // Deliberately not ALLOCATIONS_DB: a demo never writes sample data into an admin's database unless told to.
    private static Option<string?> DemoDb(string name) => new("--db") { Description = $"The demo's file (default: {name} in the per-user data folder)", HelpName = "PATH" };
}
