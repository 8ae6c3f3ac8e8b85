using Allocations.Domain;
using Allocations.Exceptions;
using NodaTime;

namespace Allocations.Tests.Reliability.Model;

/// <summary>Rate corrections and re-rating, by the documentation: both need an organization admin (a member of a
/// group is denied, anyone else is told the organization does not exist); a correction replaces the rules over its
/// period, keeping the parts of rules outside it, and changes no stored amount; a preview lists the events of the SKU
/// overlapping the period whose rating under today's rules differs (every event whose amount differs among them), and
/// applying it gives each its new amount, once.</summary>
internal sealed partial class ModelInterpreter
{
    /// <summary>The SKU index and period (hours after T0) of the last correction made, for <see cref="Rerate.LastCorrected"/>.</summary>
    private (int Sku, int FromHour, int Hours)? lastCorrection;

    private static Type? OrgAdminRefusal(ModelActor actor) => actor switch
    {
        ModelActor.Admin => null,
        ModelActor.U1 or ModelActor.U2 => typeof(AccessDeniedException),
        _ => typeof(NotFoundException),
    };

    private void DoCorrectRate(ModelSku sku, int fromHour, int? hours, long rateNanos, ModelActor actor)
    {
        var from = T0Ns + (fromHour * NsPerHour);
        long? to = hours is { } h ? from + (h * NsPerHour) : null;
        Func<Task<IReadOnlyList<RateRule>>> call = () => store.CorrectRateAsync(
            Actors[(int)actor], organization, new SkuCode(sku.Code), Ns(from), to is { } t ? Ns(t) : null, Rate.FromNanos(rateNanos), "model correction");
        if (hours == 0)
        {
            Expect<InvalidInputException>(call, "effectiveTo");
            return;
        }
        if (OrgAdminRefusal(actor) is { } refusal)
        {
            Expect(refusal, call);
            return;
        }
        var stored = Run(call());
        Tally("rate corrected");
        lastCorrection = (Skus.ToList().FindIndex(k => k.Code == sku.Code), fromHour, hours ?? (240 - fromHour));
        var end = to ?? long.MaxValue;
        var rules = new List<ModelRule> { new(from, to, rateNanos) };
        foreach (var rule in sku.Rules)
        {
            var ruleEnd = rule.ToNs ?? long.MaxValue;
            if (rule.FromNs < from)
            {
                rules.Add(rule with { ToNs = ruleEnd <= from ? rule.ToNs : from });
            }
            if (ruleEnd > end)
            {
                rules.Add(rule with { FromNs = Math.Max(rule.FromNs, end) });
            }
        }
        rules.Sort((a, b) => a.FromNs.CompareTo(b.FromNs));
        catalogue[sku.Code] = sku with { Rules = rules };
        var expected = rules.Select(r => (Ns(r.FromNs), r.ToNs is { } e ? Ns(e) : (Instant?)null, r.RateNanos));
        var actual = stored.Select(r => (r.EffectiveFrom, r.EffectiveTo, r.Rate.Nanos));
        Check(actual.SequenceEqual(expected), $"the rules after the correction are [{string.Join(", ", actual)}], the model has [{string.Join(", ", expected)}]");
    }

    private void DoRerate(ModelSku sku, int fromHour, int hours, int maxEvents, ModelActor actor, bool deleteFirst)
    {
        var from = T0Ns + (fromHour * NsPerHour);
        var to = from + (hours * NsPerHour);
        var code = new SkuCode(sku.Code);
        var interval = new Interval(Ns(from), Ns(to));
        var principal = Actors[(int)actor];
        Func<Task<ReratePreview>> preview = () => store.PreviewRerateAsync(principal, organization, code, interval, maxEvents);
        if (OrgAdminRefusal(actor) is { } refusal)
        {
            Expect(refusal, preview);
            Expect(refusal, () => store.RerateAsync(principal, Run(store.PreviewRerateAsync(Admin, organization, code, interval, maxEvents))));
            return;
        }
        var current = catalogue[sku.Code];
        var inPeriod = events.Where(e => e.Live && e.Sku.Code == sku.Code && e.StartNs < to && (e.EndNs > from || e.StartNs >= from)).ToList();
        var rerated = inPeriod.ToDictionary(e => e.Id, e => ModelRater.Rate(current, e.Quantity, e.StartNs, e.EndNs)
            ?? throw new ModelMismatchException(step, $"the model cannot rate {e.Id} under today's rules"));
        var p = Run(preview());

        var listed = new List<(MEvent Event, long NewAmount)>();
        foreach (var item in p.Events)
        {
            var e = inPeriod.SingleOrDefault(x => x.Id == item.Event);
            Check(e is not null, $"the preview lists {item.Event}, which is no live {sku.Code} event overlapping {interval}");
            Check(item.OldAmount.Micros == e!.Amount && item.NewAmount.Micros == rerated[e.Id],
                $"the preview rates {item.Event} {item.OldAmount} -> {item.NewAmount}, the model {e.Amount} -> {rerated[e.Id]}");
            Check(item.Allocation == e.Allocation.Id && item.Status == (e.Confirmed ? UsageStatus.Confirmed : UsageStatus.Estimated), $"the preview lists {item.Event} with the wrong allocation or status");
            listed.Add((e, rerated[e.Id]));
        }
        Check(p.Events.Select(i => i.Event.Value).SequenceEqual(p.Events.Select(i => i.Event.Value).Order()), "the preview's events are not in id order");
        Check(p.Events.Count <= maxEvents && (p.IsComplete || p.Events.Count == maxEvents), $"the preview lists {p.Events.Count} events (limit {maxEvents}, complete {p.IsComplete})");
        if (p.IsComplete)
        {
            var missing = inPeriod.Where(e => rerated[e.Id] != e.Amount && listed.All(l => l.Event != e)).Select(e => e.Id).ToList();
            Check(missing.Count == 0, $"the preview misses {string.Join(", ", missing)}, whose amount changes");
        }
        else
        {
            Tally("rerate preview stopped at its limit");
        }
        CheckDeltas(p, listed);

        if (deleteFirst && listed.Count > 0)
        {
            var victim = listed[0].Event;
            Run(store.DeleteEventAsync(Admin, victim.Id));
            victim.Deleted = true;
            var stale = Expect(typeof(StalePreviewException), () => store.RerateAsync(principal, p));
            Check(((StalePreviewException)stale).Events.Contains(victim.Id), $"the stale preview's error does not name {victim.Id}");
            Tally("rerate refused as stale");
            return;
        }

        var before = allocations.Where(a => !a.Deleted).ToDictionary(a => a, a => (Int128)Used(a) + Estimated(a));
        var result = Run(store.RerateAsync(principal, p));
        Check(result.Rerated == listed.Count && result.AlreadyApplied == 0, $"the re-rate reports {result}, the preview listed {listed.Count}");
        foreach (var (e, amount) in listed)
        {
            e.Amount = amount;
        }
        var over = before.Where(b => (Int128)Used(b.Key) + Estimated(b.Key) > b.Value && (Int128)Used(b.Key) + Estimated(b.Key) > b.Key.Total).Select(b => b.Key.Id).OrderBy(id => id.Value).ToList();
        Check(result.OverTotal.SequenceEqual(over), $"the re-rate names [{string.Join(", ", result.OverTotal)}] over their total, the model [{string.Join(", ", over)}]");
        Tally(listed.Count > 0 ? "rerate applied" : "rerate found nothing");

        var again = Run(store.RerateAsync(principal, p));
        Check(again.Rerated == 0 && again.AlreadyApplied == listed.Count, $"applying the preview again reports {again}");
        if (listed.Count > 0)
        {
            Tally("rerate already applied");
        }
        if (p.IsComplete)
        {
            var next = Run(preview());
            Check(next.Events.Count == 0, $"a preview after the re-rate still lists {string.Join(", ", next.Events)}");
        }
    }

    /// <summary>Each allocation's deltas: its own listed events' and, for a parent, its children's too.</summary>
    private void CheckDeltas(ReratePreview p, List<(MEvent Event, long NewAmount)> listed)
    {
        var expected = new SortedDictionary<long, (long Used, long Estimated)>();
        foreach (var (e, amount) in listed)
        {
            foreach (var level in new[] { e.Allocation, e.Allocation.Parent }.OfType<MAllocation>())
            {
                var (used, estimated) = expected.GetValueOrDefault(level.Id.Value);
                expected[level.Id.Value] = e.Confirmed ? (used + amount - e.Amount, estimated) : (used, estimated + amount - e.Amount);
            }
        }
        var actual = p.Allocations.Select(a => (a.Allocation.Value, a.UsedDelta.Micros, a.EstimatedDelta.Micros));
        var model = expected.Select(x => (x.Key, x.Value.Used, x.Value.Estimated));
        Check(actual.SequenceEqual(model), $"the preview's deltas are [{string.Join(", ", actual)}], the model's [{string.Join(", ", model)}]");
    }
}
