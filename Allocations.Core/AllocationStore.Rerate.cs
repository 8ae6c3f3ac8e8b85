using Allocations.Budgets;
using Allocations.Catalogue;
using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Recording;
using Allocations.Utility;
using NodaTime;

namespace Allocations;

public sealed partial class AllocationStore
{
    /// <summary>Corrects a SKU's rate over a period, past or future: from <paramref name="effectiveFrom"/> to
    /// <paramref name="effectiveTo"/> (exclusive; null for open-ended) the SKU is rated at <paramref name="rate"/>,
    /// whatever rules covered that period before.</summary>
    /// <remarks>
    /// <para>Rules wholly inside the period are removed; a rule reaching past either end keeps that part at its old
    /// rate (a rule reaching past both ends is split in two). A gap inside the period is filled. The correction is
    /// journalled as <c>rate.correct</c>, with the rules it replaced, the parts it kept and the reason.</para>
    /// <para>Events already stored are <b>not</b> changed: their amounts stay as rated when recorded. Use
    /// <see cref="PreviewRerateAsync"/> and <see cref="RerateAsync"/> to re-rate them.</para>
    /// </remarks>
    /// <param name="actor">An organization admin.</param>
    /// <param name="organization">The organization.</param>
    /// <param name="sku">The SKU.</param>
    /// <param name="effectiveFrom">The first instant of the corrected period.</param>
    /// <param name="effectiveTo">The first instant after it, or null for open-ended.</param>
    /// <param name="rate">The correct rate over the period.</param>
    /// <param name="reason">Why (up to 2,000 characters), kept in the journal entry.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The SKU's rules after the correction, in time order.</returns>
    /// <exception cref="InvalidInputException">An instant is out of range, the period is empty, or the reason is missing
    /// or too long.</exception>
    /// <exception cref="NotFoundException">The organization or SKU does not exist.</exception>
    /// <exception cref="AccessDeniedException">The actor is not an organization admin.</exception>
    public Task<IReadOnlyList<RateRule>> CorrectRateAsync(
        Principal actor, OrganizationId organization, SkuCode sku, Instant effectiveFrom, Instant? effectiveTo, Rate rate, string reason, CancellationToken cancellationToken = default)
    {
        CatalogueService.CheckCode(sku.Value, "sku");
        var (fromNs, toNs) = CatalogueService.CheckPeriod(effectiveFrom, effectiveTo);
        var why = Preconditions.CheckText(reason, "reason", AllocationService.MaxReasonLength);
        return tx.Write(actor, uow => RateCorrection.Correct(uow, organization, sku, fromNs, toNs, rate, why), cancellationToken);
    }

    /// <summary>Lists what re-rating a SKU's events over a period under today's rules would change, changing nothing:
    /// every event whose stored segments, amount or USD cost differ from a rating under the SKU's rules and its unit's
    /// USD prices as they are now, with the old and new amounts and each allocation's figure deltas.</summary>
    /// <remarks>
    /// <para>An event belongs to the period when its interval overlaps it (a zero-length event when its start lies in
    /// it), and is rated again over its whole interval. Events are read from storage a page at a time; the preview holds
    /// at most <paramref name="maxEvents"/> changed events (and, while reading, one page of 1,000 events), and says
    /// whether it stopped there (<see cref="ReratePreview.IsComplete"/>): apply it and preview again for the rest.</para>
    /// <para>An event whose rule a correction split is listed even when its amount stays the same: its segments name
    /// the rule now in force.</para>
    /// </remarks>
    /// <param name="actor">An organization admin (a preview lists events of every allocation of the organization).</param>
    /// <param name="organization">The organization.</param>
    /// <param name="sku">The SKU whose events to rate again.</param>
    /// <param name="interval">The period, with a start and an end, within 1900–2200.</param>
    /// <param name="maxEvents">The most changed events to list, 1 to 100,000 (default 10,000).</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The preview, with a token to compare and apply.</returns>
    /// <exception cref="InvalidInputException">The SKU code is empty, the interval is unbounded, empty or out of range,
    /// or <paramref name="maxEvents"/> is out of range.</exception>
    /// <exception cref="NotFoundException">The organization or SKU does not exist (or the actor is no member of the
    /// organization).</exception>
    /// <exception cref="AccessDeniedException">The actor is not an organization admin.</exception>
    /// <exception cref="NoRateException">Today's rules leave an instant of a listed event without a rate or USD price.</exception>
    public Task<ReratePreview> PreviewRerateAsync(
        Principal actor, OrganizationId organization, SkuCode sku, Interval interval, int maxEvents = RerateService.DefaultMaxEvents, CancellationToken cancellationToken = default)
    {
        var (fromNs, toNs) = RerateService.Check(sku, interval, maxEvents);
        return tx.Read(actor, uow => RerateService.Preview(uow, organization, sku, interval, fromNs, toNs, maxEvents), cancellationToken);
    }

    /// <summary>Applies exactly a re-rate preview, in one transaction: each listed event's segments, amount and USD cost
    /// are replaced by its rating under today's rules, its allocation's figures (and its parent's) and the
    /// organization's sums move by the difference, and each event gets one <c>usage.rerate</c> journal entry with its
    /// state before and after.</summary>
    /// <remarks>
    /// <para>Refused, changing nothing, when anything the preview covers changed since it was taken: a listed event was
    /// changed, moved or deleted, or the SKU's rules or its unit's USD prices changed. Events recorded since, which are
    /// rated under today's rules already, do not matter.</para>
    /// <para>Idempotent: applying a preview again changes nothing and writes no entry; the result says it was already
    /// applied (<see cref="RerateResult.WasAlreadyApplied"/>).</para>
    /// <para>A correction is applied even when it takes an allocation past its total (as recording Confirmed usage
    /// is): <see cref="RerateResult.OverTotal"/> names those allocations, whose Remaining is then negative. A figure
    /// that would leave the amount range is refused.</para>
    /// <para>Reports read the stored segments, so they show the new amounts; the journal keeps the old ones.</para>
    /// </remarks>
    /// <param name="actor">An organization admin.</param>
    /// <param name="preview">A preview taken with <see cref="PreviewRerateAsync"/>.</param>
    /// <param name="cancellationToken">Cancels the call; nothing is applied when cancelled.</param>
    /// <returns>How many events were re-rated, how many had been before, and the allocations moved with their new
    /// figures.</returns>
    /// <exception cref="InvalidInputException"><paramref name="preview"/> is null, or a figure would leave the amount
    /// range (field <c>amount</c> or <c>usd</c>).</exception>
    /// <exception cref="NotFoundException">The organization or SKU does not exist.</exception>
    /// <exception cref="AccessDeniedException">The actor is not an organization admin.</exception>
    /// <exception cref="StalePreviewException">Something the preview covers changed since it was taken.</exception>
    public Task<RerateResult> RerateAsync(Principal actor, ReratePreview preview, CancellationToken cancellationToken = default)
    {
        Preconditions.CheckNotNull(preview, "preview");
        return tx.WriteAsync(actor, uow => RerateService.ApplyAsync(uow, preview), cancellationToken);
    }
}
