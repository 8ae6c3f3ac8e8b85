namespace Allocations.Recording;

/// <summary>The sources an event can be recorded by. An external key is unique within (organization, source): a host
/// user's events are <c>user:&lt;id&gt;</c>, the system actor's <c>system</c> (see
/// <see cref="Domain.Principal.Encoded"/>), and whatever the Slurm importer records is <see cref="Slurm"/>, whoever
/// runs it.</summary>
internal static class EventSources
{
    /// <summary>The source of every event the Slurm importer records.</summary>
    internal const string Slurm = "slurm";
}
