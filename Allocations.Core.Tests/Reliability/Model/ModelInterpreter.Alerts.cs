using Allocations.Access;
using Allocations.Domain;
using Allocations.Exceptions;

namespace Allocations.Tests.Reliability.Model;

// Alert thresholds in the model: the crossings it expects are computed from its own figures before and after every
// step, by its own reading of the threshold rule, and the store's outbox must hold exactly those, in order.
internal sealed partial class ModelInterpreter
{
    /// <summary>The crossings the model expects, in order: allocation, threshold, direction, figures after.</summary>
    private readonly List<(AllocationId Allocation, string Line)> expectedAlerts = [];
    private int alertsChecked;
    private AlertCursor adminCursor;

    private static AlertThreshold ToThreshold((int Kind, long Value) t) =>
        t.Kind == 1 ? AlertThreshold.PercentUsed(t.Value / 100m) : AlertThreshold.Remaining(Amount.FromMicros(t.Value));

    /// <summary>The documented rule: % Used p is reached while Used + Estimated is above zero and at least p % of the
    /// total; Remaining r while Total − Used − Estimated is at most r.</summary>
    private static bool Reached((int Kind, long Value) t, long total, long consumed) => t.Kind == 1
        ? consumed > 0 && (decimal)consumed * 100m >= t.Value / 100m * total
        : (decimal)total - consumed <= t.Value;

    /// <summary>Each live allocation's total and Used + Estimated, before a step.</summary>
    private Dictionary<MAllocation, (long Total, long Consumed)> AlertFigures() =>
        allocations.Where(a => !a.Deleted).ToDictionary(a => a, a => (a.Total, Used(a) + Estimated(a)));

    /// <summary>Adds the crossings of the step: per allocation still there, in id order, each threshold by kind and value.</summary>
    private void ExpectCrossings(Dictionary<MAllocation, (long Total, long Consumed)> before)
    {
        foreach (var (a, (total, consumed)) in before.OrderBy(x => x.Key.Id.Value))
        {
            if (a.Deleted)
            {
                continue;
            }
            var (totalAfter, usedAfter, estimatedAfter) = (a.Total, Used(a), Estimated(a));
            foreach (var t in a.Thresholds)
            {
                var was = Reached(t, total, consumed);
                var now = Reached(t, totalAfter, usedAfter + estimatedAfter);
                if (was != now)
                {
                    expectedAlerts.Add((a.Id, Line(a.Id, ToThreshold(t), now ? AlertDirection.Up : AlertDirection.Down, totalAfter, usedAfter, estimatedAfter)));
                    Tally(now ? "alert up" : "alert down");
                }
            }
        }
    }

    private static string Line(AllocationId id, AlertThreshold threshold, AlertDirection direction, long total, long used, long estimated) =>
        $"{id} {threshold} {direction} {total}/{used}/{estimated}";

    private static string Line(Alert a) => Line(a.Allocation, a.Threshold, a.Direction, a.Total.Micros, a.Used.Micros, a.Estimated.Micros);

    /// <summary>After every step: the admin reads on from its cursor and finds exactly the crossings the model added.</summary>
    private void CheckAlerts()
    {
        var (lines, next) = ReadAlertsAfter(Admin, adminCursor);
        adminCursor = next;
        var expected = expectedAlerts.Skip(alertsChecked).Select(x => x.Line).ToList();
        Check(lines.SequenceEqual(expected), $"alerts recorded [{string.Join("; ", lines)}], the model expects [{string.Join("; ", expected)}]");
        alertsChecked = expectedAlerts.Count;
    }

    private (List<string> Lines, AlertCursor Next) ReadAlertsAfter(Principal principal, AlertCursor cursor)
    {
        var lines = new List<string>();
        while (true)
        {
            var page = Run(store.GetAlertsAsync(principal, organization, cursor, pageSize: 7));
            lines.AddRange(page.Alerts.Select(Line));
            if (page.Next == cursor)
            {
                return (lines, cursor);
            }
            cursor = page.Next;
        }
    }

    private void DoSetThresholds(MAllocation target, SetThresholds op)
    {
        var wanted = op.PercentHundredths.Select(p => (Kind: 1, Value: p)).Concat(op.RemainingMicros.Select(r => (Kind: 2, Value: r))).ToList();
        var thresholds = wanted.Select(ToThreshold).ToList();
        var principal = Actors[(int)op.As];
        if (wanted.Distinct().Count() != wanted.Count)
        {
            Expect<InvalidInputException>(() => store.SetAlertThresholdsAsync(principal, target.Id, thresholds), "thresholds");
            return;
        }
        if (Refusal(op.As, target, AccessLevel.Admin) is { } refusal)
        {
            Expect(refusal, () => store.SetAlertThresholdsAsync(principal, target.Id, thresholds));
            return;
        }
        var set = Run(store.SetAlertThresholdsAsync(principal, target.Id, thresholds));
        target.Thresholds = [.. wanted.Order()];
        Check(set.SequenceEqual(target.Thresholds.Select(ToThreshold)), $"thresholds set as [{string.Join(", ", set)}], the model has [{string.Join(", ", target.Thresholds.Select(ToThreshold))}]");
        var read = Run(store.GetAlertThresholdsAsync(Admin, target.Id));
        Check(read.SequenceEqual(set), $"thresholds read back as [{string.Join(", ", read)}], set as [{string.Join(", ", set)}]");
        Tally(wanted.Count > 0 ? "thresholds set" : "thresholds cleared");
    }

    /// <summary>Everyone who knows the organization reads all alerts of the allocations it may Read (a deleted
    /// allocation's only as the admin); u3, in no group, is told the organization does not exist.</summary>
    private void DoReadAlerts(ModelActor actor)
    {
        var principal = Actors[(int)actor];
        if (actor == ModelActor.U3)
        {
            Expect<NotFoundException>(() => store.GetAlertsAsync(principal, organization));
            return;
        }
        var (lines, _) = ReadAlertsAfter(principal, AlertCursor.Start);
        var byId = allocations.GroupBy(a => a.Id).ToDictionary(g => g.Key, g => g.Last());
        var expected = expectedAlerts
            .Where(x => actor == ModelActor.Admin || Level(actor, byId[x.Allocation]) >= AccessLevel.Read)
            .Select(x => x.Line)
            .ToList();
        Check(lines.SequenceEqual(expected), $"{actor} reads alerts [{string.Join("; ", lines)}], the model says [{string.Join("; ", expected)}]");
        Tally(lines.Count < expectedAlerts.Count ? "alerts filtered by Read" : "alerts read");
    }
}
