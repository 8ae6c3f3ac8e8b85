using Allocations.Access;
using Allocations.Domain;
using Allocations.Tests.Support;
using NodaTime;
using NodaTime.Testing;
using Xunit;

namespace Allocations.Tests.Access;

/// <summary>A way of holding a level on the target allocation <c>Child</c> (whose parent is <c>Parent</c>).</summary>
public enum Way
{
    /// <summary>Not in any group of the organization and not its admin: it does not even see the organization.</summary>
    Outsider,
    None,
    Group,
    OrgWide,
    Inherited,
    OrgAdmin,
    System,
}

/// <summary>One principal of the matrix and how it holds its level.</summary>
public sealed record Holder(Way Way, AccessLevel Level)
{
    public string UserId => Way switch
    {
        Way.None => "none",
        Way.Outsider => "outsider",
        Way.OrgAdmin => "orgadmin",
        Way.System => "system",
        _ => $"{Way}-{Level}".ToLowerInvariant(),
    };

    public Principal Principal => Way == Way.System ? Principal.System : Principal.User(UserId);

    /// <summary>The level held on Child, or on Parent when <paramref name="onParent"/>.</summary>
    public AccessLevel LevelOn(bool onParent) => Way switch
    {
        Way.None or Way.Outsider => AccessLevel.None,
        Way.OrgAdmin or Way.System => AccessLevel.Admin,
        Way.Inherited => Level,
        _ => onParent ? AccessLevel.None : Level,
    };

    public bool HoldsAnyGrant => Way is Way.Group or Way.OrgWide or Way.Inherited;

    public override string ToString() => UserId;

    public static IEnumerable<Holder> All()
    {
        yield return new Holder(Way.Outsider, AccessLevel.None);
        yield return new Holder(Way.None, AccessLevel.None);
        foreach (var way in new[] { Way.Group, Way.OrgWide, Way.Inherited })
        {
            foreach (var level in new[] { AccessLevel.Read, AccessLevel.Use, AccessLevel.Admin })
            {
                yield return new Holder(way, level);
            }
        }
        yield return new Holder(Way.OrgAdmin, AccessLevel.Admin);
        yield return new Holder(Way.System, AccessLevel.Admin);
    }
}

/// <summary>The ids every matrix operation aims at; the same in every copy of the template.</summary>
/// <param name="Org">The organization.</param>
/// <param name="Parent">The parent allocation.</param>
/// <param name="Child">The target allocation.</param>
/// <param name="Hold">An Estimated hold on Child recorded by <c>admin</c>: another principal's, for every holder.</param>
/// <param name="Charge">A Confirmed charge on Child.</param>
/// <param name="OwnHold">An Estimated hold on Child that each holder's template makes the holder's own (its source).</param>
public sealed record MatrixContext(OrganizationId Org, AllocationId Parent, AllocationId Child, UsageEventId Hold, UsageEventId Charge, UsageEventId OwnHold);

/// <summary>Builds the matrix's base database once per engine: an organization with two admins, a staff group every
/// matrix user but the outsider belongs to, a spare group with a Read grant on Child, Parent and Child allocations with
/// an Estimated hold and a Confirmed charge on Child. Each holder's template adds only that holder's grant. On SQLite a
/// case is a copy of the template's file; on PostgreSQL a case database is made once per holder from its template
/// database and put back to the template's rows (kept in a schema of their own) after every call that changed it.</summary>
public sealed class AccessMatrixFixture : IAsyncLifetime
{
    public static readonly Instant Now = Instant.FromUtc(2026, 11, 20, 12, 0);

    private readonly Dictionary<(Holder, Engine), string> templates = [];
    private readonly Dictionary<Engine, (string Location, MatrixContext Context)> bases = [];
    private readonly List<string> databases = [];
    private readonly SemaphoreSlim gate = new(1, 1);

    public string Directory { get; } = TestStore.NewDirectory();

    public MatrixContext Context { get; private set; } = null!;

    public Task InitializeAsync() => Task.CompletedTask;

    private async Task<string> BaseAsync(Engine engine)
    {
        if (bases.TryGetValue(engine, out var existing))
        {
            return existing.Location;
        }
        using var t = await TestStore.CreateAsync(engine, keepDatabase: true);
        var admin = TestStore.Admin;
        var store = t.Store;
        var org = t.Organization;
        await store.AddOrganizationAdminAsync(admin, org, "admin2");
        await store.CreateSkuAsync(admin, org, new SkuCode("NEW_SKU"), TestStore.CoreHours, RateBasis.PerUnit);
        await store.CreateGroupAsync(admin, org, "staff");
        foreach (var holder in Holder.All().Where(h => h.Way is not (Way.System or Way.Outsider)))
        {
            await store.AddGroupMemberAsync(admin, org, "staff", holder.UserId);
        }
        await store.CreateGroupAsync(admin, org, "spare");
        await store.AddGroupMemberAsync(admin, org, "spare", "spare-member");
        var parent = await t.CreateAllocationAsync("Parent", 1000m);
        var child = await t.CreateAllocationAsync("Child", 500m, parent);
        await store.GrantAsync(admin, child.Id, Grantee.Group("spare"), AccessLevel.Read);
        // A threshold on each that the first hold crosses: one alert of Parent and one of Child for GetAlertsAsync.
        await store.SetAlertThresholdsAsync(admin, parent.Id, [AlertThreshold.PercentUsed(0.01m)]);
        await store.SetAlertThresholdsAsync(admin, child.Id, [AlertThreshold.PercentUsed(0.01m)]);
        var start = TestStore.November15 - Duration.FromHours(2);
        var hold = await store.ReserveAsync(admin, TestStore.Cpu1(child, 1m, start, TestStore.November15, UsageStatus.Estimated, "hold-1"));
        var charge = await store.RecordUsageAsync(admin, TestStore.Cpu1(child, 2m, start, TestStore.November15, UsageStatus.Confirmed, "charge-1"));
        var own = await store.ReserveAsync(admin, TestStore.Cpu1(child, 1m, start, TestStore.November15, UsageStatus.Estimated, "own-hold-1"));
        var context = new MatrixContext(org, parent.Id, child.Id, hold.Event!.Id, charge.Event.Id, own.Event!.Id);
        // The ids are the same on every engine (each starts from an empty store), so one context serves both.
        Assert.True(Context is null || Context == context, $"the engines' base stores differ: {Context} and {context}");
        Context = context;
        store.Dispose();
        string location;
        if (engine == Engine.Sqlite)
        {
            location = Path.Combine(Directory, "base.db");
            CopyDatabase(t.Path, location);
        }
        else
        {
            location = t.ConnectionString!;
            databases.Add(location);
        }
        bases[engine] = (location, context);
        return location;
    }

    /// <summary>The template of one holder: the base plus that holder's grant (or admin right).</summary>
    public async Task<string> TemplateAsync(Holder holder, Engine engine = Engine.Sqlite)
    {
        await gate.WaitAsync();
        try
        {
            if (templates.TryGetValue((holder, engine), out var existing))
            {
                return existing;
            }
            var baseLocation = await BaseAsync(engine);
            string location;
            if (engine == Engine.Sqlite)
            {
                location = Path.Combine(Directory, $"template-{holder.UserId}.db");
                CopyDatabase(baseLocation, location);
            }
            else
            {
                location = await PostgresServer.CopyDatabaseAsync(baseLocation);
                databases.Add(location);
            }
            using (var store = await OpenAsync(location, engine))
            {
                var admin = TestStore.Admin;
                var c = Context;
                switch (holder.Way)
                {
                    case Way.Group:
                        await store.CreateGroupAsync(admin, c.Org, "g-" + holder.UserId);
                        await store.AddGroupMemberAsync(admin, c.Org, "g-" + holder.UserId, holder.UserId);
                        await store.GrantAsync(admin, c.Child, Grantee.Group("g-" + holder.UserId), holder.Level);
                        break;
                    case Way.OrgWide:
                        await store.GrantAsync(admin, c.Child, Grantee.Organization, holder.Level);
                        break;
                    case Way.Inherited:
                        await store.CreateGroupAsync(admin, c.Org, "g-" + holder.UserId);
                        await store.AddGroupMemberAsync(admin, c.Org, "g-" + holder.UserId, holder.UserId);
                        await store.GrantAsync(admin, c.Parent, Grantee.Group("g-" + holder.UserId), holder.Level);
                        break;
                    case Way.OrgAdmin:
                        await store.AddOrganizationAdminAsync(admin, c.Org, holder.UserId);
                        break;
                }
            }
            // The own hold becomes the holder's: as if the holder had recorded it (a holder without Use could not).
            TestStore.RawOn(
                engine == Engine.Sqlite ? null : location,
                location,
                "UPDATE usage_events SET source = @source, recorded_by = @by WHERE id = @id",
                scalar: false,
                ("source", holder.Way == Way.System ? "system" : "user:" + holder.UserId),
                ("by", holder.UserId),
                ("id", Context.OwnHold.Value));
            if (engine == Engine.Postgres)
            {
                // A case database of the holder's own, holding the template's rows in a schema beside the store's.
                var template = location;
                location = await PostgresServer.CopyDatabaseAsync(template);
                databases.Add(location);
                PostgresServer.SnapshotTables(location);
            }
            templates[(holder, engine)] = location;
            return location;
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>A database in the template's state for one call: a copy of the file on SQLite; on PostgreSQL the
    /// holder's case database, put back to the template's rows when the previous call changed it.</summary>
    public static string Case(string template, Engine engine, string path, bool changed)
    {
        if (engine == Engine.Sqlite)
        {
            CopyDatabase(template, path);
            return path;
        }
        if (changed)
        {
            PostgresServer.RestoreTables(template);
        }
        return template;
    }

    public static string Hash(string location, Engine engine) =>
        engine == Engine.Sqlite ? DatabaseHash.Of(location) : DatabaseHash.OfPostgres(location);

    public static Task<AllocationStore> OpenAsync(string location, Engine engine = Engine.Sqlite)
    {
        var options = new AllocationStoreOptions { Clock = new FakeClock(Now), DurableWrites = false };
        return engine == Engine.Sqlite ? AllocationStore.OpenAsync(location, options) : AllocationStore.OpenPostgresAsync(location, options);
    }

    public static void CopyDatabase(string from, string to)
    {
        File.Copy(from, to, overwrite: true);
        foreach (var suffix in new[] { "-wal", "-shm" })
        {
            if (File.Exists(from + suffix))
            {
                File.Copy(from + suffix, to + suffix, overwrite: true);
            }
            else if (File.Exists(to + suffix))
            {
                File.Delete(to + suffix);
            }
        }
    }

    public async Task DisposeAsync()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (databases.Count > 0)
        {
            Npgsql.NpgsqlConnection.ClearAllPools();
            foreach (var database in databases)
            {
                await PostgresServer.DropDatabaseAsync(database);
            }
        }
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // A file still open elsewhere in the test process; the OS temp cleaner takes it later.
        }
    }
}
