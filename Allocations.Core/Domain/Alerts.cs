using System.Globalization;
using Allocations.Exceptions;
using NodaTime;

namespace Allocations.Domain;

/// <summary>What an alert threshold watches.</summary>
public enum AlertThresholdKind
{
    /// <summary>Not a threshold: the kind of <c>default(AlertThreshold)</c>, refused wherever a threshold is set.</summary>
    None = 0,

    /// <summary>% Used: reached when (Used + Estimated) / Total × 100 is at least the percentage.</summary>
    PercentUsed = 1,

    /// <summary>Remaining: reached when Total − Used − Estimated is at most the amount.</summary>
    Remaining = 2,

    /// <summary>The allocation's period ends within the store's lead (<see cref="AllocationStoreOptions.PeriodEndAlertLead"/>):
    /// recorded by <see cref="AllocationStore.SweepPeriodAlertsAsync"/>, never set by hand.</summary>
    PeriodEnding = 3,

    /// <summary>The allocation's period ended with budget unspent (Remaining above zero): recorded by
    /// <see cref="AllocationStore.SweepPeriodAlertsAsync"/>, never set by hand.</summary>
    PeriodEndedUnspent = 4,
}

/// <summary>A threshold of an allocation's figures whose crossing records an alert: a percentage of % Used, or an
/// amount of Remaining; or, for the alerts of periods, the end of the allocation's period.</summary>
/// <remarks>
/// <para>A % Used threshold of <c>p</c> is reached while Used + Estimated is more than zero and at least <c>p</c> % of the
/// total (an allocation with a total of zero and any usage has reached every one); a Remaining threshold of <c>r</c>
/// while Total − Used − Estimated is at most <c>r</c>. A percentage lies above 0 and at most
/// <see cref="MaxPercent"/>, with at most two decimals; an amount is zero or more.</para>
/// <para><c>default(AlertThreshold)</c> has the kind <see cref="AlertThresholdKind.None"/> and is refused wherever a
/// threshold is set. Two thresholds are equal when their kind and value are.</para>
/// </remarks>
public readonly struct AlertThreshold : IEquatable<AlertThreshold>
{
    /// <summary>The largest percentage a % Used threshold may have.</summary>
    public const int MaxPercent = 1000;

    private readonly AlertThresholdKind kind;
    private readonly long value; // hundredths of a percent, or micro-units

    private AlertThreshold(AlertThresholdKind kind, long value)
    {
        this.kind = kind;
        this.value = value;
    }

    /// <summary>Gets what the threshold watches.</summary>
    public AlertThresholdKind Kind => kind;

    /// <summary>Gets the percentage of a % Used threshold; null for a Remaining threshold.</summary>
    public decimal? Percent => kind == AlertThresholdKind.PercentUsed ? value / 100m : null;

    /// <summary>Gets the amount of a Remaining threshold; null for a % Used threshold.</summary>
    public Amount? RemainingAmount => kind == AlertThresholdKind.Remaining ? Amount.FromMicros(value) : null;

    /// <summary>Gets the end of the period of a <see cref="AlertThresholdKind.PeriodEnding"/> or
    /// <see cref="AlertThresholdKind.PeriodEndedUnspent"/> alert; null for the other kinds.</summary>
    public Instant? PeriodEnd => kind is AlertThresholdKind.PeriodEnding or AlertThresholdKind.PeriodEndedUnspent ? InstantCodec.FromNs(value) : null;

    /// <summary>Gets the stored value: hundredths of a percent, or micro-units.</summary>
    internal long Value => value;

    /// <summary>Creates a % Used threshold.</summary>
    /// <param name="percent">The percentage: above 0, at most <see cref="MaxPercent"/>, at most two decimals.</param>
    /// <returns>The threshold.</returns>
    /// <exception cref="InvalidInputException">The percentage breaks its rule (field <c>percent</c>).</exception>
    public static AlertThreshold PercentUsed(decimal percent)
    {
        var text = percent.ToString(CultureInfo.InvariantCulture);
        if (percent <= 0)
        {
            throw new InvalidInputException("percent", text, "must be more than 0");
        }
        if (percent > MaxPercent)
        {
            throw new InvalidInputException("percent", text, $"must be at most {MaxPercent}");
        }
        var hundredths = percent * 100m;
        if (hundredths != decimal.Truncate(hundredths))
        {
            throw new InvalidInputException("percent", text, "must have at most two decimals");
        }
        return new AlertThreshold(AlertThresholdKind.PercentUsed, (long)hundredths);
    }

    /// <summary>Creates a Remaining threshold.</summary>
    /// <param name="amount">The amount of Remaining at or below which the threshold is reached: zero or more.</param>
    /// <returns>The threshold.</returns>
    /// <exception cref="InvalidInputException">The amount is negative (field <c>remaining</c>).</exception>
    public static AlertThreshold Remaining(Amount amount)
    {
        if (amount.Micros < 0)
        {
            throw new InvalidInputException("remaining", amount.ToString(), "must not be negative");
        }
        return new AlertThreshold(AlertThresholdKind.Remaining, amount.Micros);
    }

    /// <summary>A threshold as stored; null when the kind is not one this library writes.</summary>
    internal static AlertThreshold? FromStored(int kind, long value) => kind switch
    {
        (int)AlertThresholdKind.PercentUsed => new AlertThreshold(AlertThresholdKind.PercentUsed, value),
        (int)AlertThresholdKind.Remaining => new AlertThreshold(AlertThresholdKind.Remaining, value),
        (int)AlertThresholdKind.PeriodEnding => new AlertThreshold(AlertThresholdKind.PeriodEnding, value),
        (int)AlertThresholdKind.PeriodEndedUnspent => new AlertThreshold(AlertThresholdKind.PeriodEndedUnspent, value),
        _ => null,
    };

    /// <summary>Whether figures (Total, Used + Estimated) have reached the threshold, in exact integer arithmetic.</summary>
    internal bool IsReachedBy(long total, Int128 consumed) => kind switch
    {
        AlertThresholdKind.PercentUsed => consumed > 0 && consumed * 10_000 >= (Int128)value * total,
        AlertThresholdKind.Remaining => total - consumed <= value,
        _ => false,
    };

    /// <inheritdoc />
    public bool Equals(AlertThreshold other) => kind == other.kind && value == other.value;

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is AlertThreshold other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(kind, value);

    /// <summary>Returns the threshold.</summary>
    /// <returns>Such as <c>80% used</c>, <c>remaining 100</c>, <c>period ending 2027-01-01T00:00:00Z</c>; <c>none</c> for
    /// the default.</returns>
    public override string ToString() => kind switch
    {
        AlertThresholdKind.PercentUsed => (value / 100m).ToString(CultureInfo.InvariantCulture) + "% used",
        AlertThresholdKind.Remaining => "remaining " + Amount.FromMicros(value),
        AlertThresholdKind.PeriodEnding => "period ending " + InstantCodec.FromNs(value),
        AlertThresholdKind.PeriodEndedUnspent => "period ended unspent " + InstantCodec.FromNs(value),
        _ => "none",
    };

    /// <summary>Compares two thresholds for equality.</summary>
    /// <param name="left">The first threshold.</param>
    /// <param name="right">The second threshold.</param>
    /// <returns>True when kind and value are equal.</returns>
    public static bool operator ==(AlertThreshold left, AlertThreshold right) => left.Equals(right);

    /// <summary>Compares two thresholds for inequality.</summary>
    /// <param name="left">The first threshold.</param>
    /// <param name="right">The second threshold.</param>
    /// <returns>True when kind or value differ.</returns>
    public static bool operator !=(AlertThreshold left, AlertThreshold right) => !left.Equals(right);
}

/// <summary>Which way a write crossed a threshold.</summary>
public enum AlertDirection
{
    /// <summary>Reached: % Used rose to the percentage or past it, or Remaining fell to the amount or below it.</summary>
    Up = 1,

    /// <summary>Left: % Used fell back below the percentage, or Remaining rose back above the amount.</summary>
    Down = 2,
}

/// <summary>A position in an organization's alerts: the alert to read after.</summary>
/// <remarks>Alerts of one organization are numbered in the order their writes committed, so a reader that keeps the
/// cursor of its last page and asks again from it sees every alert, in order, at least once. <c>default</c>
/// (<see cref="Start"/>) is before the first alert. Two cursors are equal when their values are.</remarks>
public readonly struct AlertCursor : IEquatable<AlertCursor>
{
    private readonly long value;

    /// <summary>Initializes a cursor.</summary>
    /// <param name="value">The number of the last alert read; 0 for none.</param>
    /// <exception cref="InvalidInputException">The value is negative (field <c>after</c>).</exception>
    public AlertCursor(long value)
    {
        if (value < 0)
        {
            throw new InvalidInputException("after", value.ToString(CultureInfo.InvariantCulture), "an alert cursor is zero or more");
        }
        this.value = value;
    }

    /// <summary>Gets the cursor before the first alert.</summary>
    public static AlertCursor Start => default;

    /// <summary>Gets the number of the last alert read; 0 for none.</summary>
    public long Value => value;

    /// <summary>Parses a cursor as <see cref="ToString"/> writes it (<c>alert:42</c>) or as a bare number.</summary>
    /// <param name="text">The text.</param>
    /// <returns>The cursor.</returns>
    /// <exception cref="InvalidInputException">The text is not a cursor (field <c>after</c>).</exception>
    public static AlertCursor Parse(string text)
    {
        var digits = text is not null && text.StartsWith("alert:", StringComparison.Ordinal) ? text["alert:".Length..] : text;
        if (digits is null || digits.Length == 0 || !digits.All(char.IsAsciiDigit) ||
            !long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var value))
        {
            throw new InvalidInputException("after", text, "an alert cursor is alert:N or N, N a whole number from 0");
        }
        return new AlertCursor(value);
    }

    /// <inheritdoc />
    public bool Equals(AlertCursor other) => value == other.value;

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is AlertCursor other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => value.GetHashCode();

    /// <summary>Returns the cursor.</summary>
    /// <returns>Such as <c>alert:42</c>.</returns>
    public override string ToString() => "alert:" + value.ToString(CultureInfo.InvariantCulture);

    /// <summary>Compares two cursors for equality.</summary>
    /// <param name="left">The first cursor.</param>
    /// <param name="right">The second cursor.</param>
    /// <returns>True when they name the same position.</returns>
    public static bool operator ==(AlertCursor left, AlertCursor right) => left.Equals(right);

    /// <summary>Compares two cursors for inequality.</summary>
    /// <param name="left">The first cursor.</param>
    /// <param name="right">The second cursor.</param>
    /// <returns>True when they name different positions.</returns>
    public static bool operator !=(AlertCursor left, AlertCursor right) => !left.Equals(right);
}

/// <summary>A threshold crossing, recorded in the transaction of the write that crossed it.</summary>
public sealed class Alert
{
    internal Alert(
        AlertCursor cursor,
        OrganizationId organization,
        AllocationId allocation,
        string allocationName,
        AlertThreshold threshold,
        AlertDirection direction,
        Amount total,
        Amount used,
        Amount estimated,
        UsageEventId? @event,
        string operation,
        long? journalSequence,
        Instant at,
        string actor)
    {
        Cursor = cursor;
        Organization = organization;
        Allocation = allocation;
        AllocationName = allocationName;
        Threshold = threshold;
        Direction = direction;
        Total = total;
        Used = used;
        Estimated = estimated;
        Event = @event;
        Operation = operation;
        JournalSequence = journalSequence;
        At = at;
        Actor = actor;
    }

    /// <summary>Gets the alert's position: pass it as <c>after</c> to read the alerts that follow it.</summary>
    public AlertCursor Cursor { get; }

    /// <summary>Gets the organization.</summary>
    public OrganizationId Organization { get; }

    /// <summary>Gets the allocation whose threshold was crossed.</summary>
    public AllocationId Allocation { get; }

    /// <summary>Gets the allocation's name (kept after the allocation is deleted).</summary>
    public string AllocationName { get; }

    /// <summary>Gets the threshold crossed.</summary>
    public AlertThreshold Threshold { get; }

    /// <summary>Gets whether the threshold was reached or left.</summary>
    public AlertDirection Direction { get; }

    /// <summary>Gets the allocation's total after the write.</summary>
    public Amount Total { get; }

    /// <summary>Gets the allocation's Used after the write.</summary>
    public Amount Used { get; }

    /// <summary>Gets the allocation's Estimated after the write.</summary>
    public Amount Estimated { get; }

    /// <summary>Gets Total − Used − Estimated after the write.</summary>
    public Amount Remaining => Total - Used - Estimated;

    /// <summary>Gets (Used + Estimated) / Total × 100 after the write; null when Total is zero.</summary>
    public decimal? PercentUsed => Total.Micros == 0 ? null : (Used + Estimated).ToDecimal() * 100m / Total.ToDecimal();

    /// <summary>Gets the usage event whose write crossed the threshold: the event recorded, replaced, confirmed,
    /// released or deleted; for a batch, the batch's last event that moved the allocation's figures (on it or, for a
    /// parent, on a child). Null when no event moved them (a total change, a transfer, a child's deletion).</summary>
    public UsageEventId? Event { get; }

    /// <summary>Gets the journal action of the write: <c>usage.record</c>, <c>usage.batch</c>, <c>usage.confirm</c>,
    /// <c>allocation.total</c>, <c>allocation.transfer-in</c>, …</summary>
    public string Operation { get; }

    /// <summary>Gets the sequence of the write's journal entry named by <see cref="Operation"/>; null when none was
    /// written.</summary>
    public long? JournalSequence { get; }

    /// <summary>Gets the instant of the write (the store's clock).</summary>
    public Instant At { get; }

    /// <summary>Gets who wrote it, as the journal names principals.</summary>
    public string Actor { get; }

    /// <summary>Returns the crossing in one line.</summary>
    /// <returns>Such as <c>alert:3 allocation:7 'physics' reached 80% used: total 100.000000, used 80.000000, estimated 0.000000 (usage.record event:12)</c>.</returns>
    public override string ToString() =>
        $"{Cursor} {Allocation} '{AllocationName}' {(Direction == AlertDirection.Up ? "reached" : "left")} {Threshold}: total {Total}, used {Used}, estimated {Estimated} ({Operation}{(Event is { } e ? " " + e : "")})";
}

/// <summary>A page of an organization's alerts and the cursor to read on from.</summary>
public sealed class AlertPage
{
    internal AlertPage(IReadOnlyList<Alert> alerts, AlertCursor next)
    {
        Alerts = alerts;
        Next = next;
    }

    /// <summary>Gets the alerts the caller may see, in the order they were recorded.</summary>
    public IReadOnlyList<Alert> Alerts { get; }

    /// <summary>Gets the cursor to pass as <c>after</c> next: past every alert this page read, including those of
    /// allocations the caller may not Read (which it skips); the same cursor when there was nothing new.</summary>
    public AlertCursor Next { get; }
}
