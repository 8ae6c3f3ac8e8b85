namespace Allocations.Access;

/// <summary>What a principal may do with an allocation; levels are ordered and each includes the ones below.</summary>
public enum AccessLevel
{
    /// <summary>Nothing: the allocation is invisible.</summary>
    None = 0,

    /// <summary>See the allocation, its figures, its events and reports.</summary>
    Read = 1,

    /// <summary>Record, reserve, confirm and release usage.</summary>
    Use = 2,

    /// <summary>Change the total, delete Confirmed events, manage grants, create children.</summary>
    Admin = 3,
}
