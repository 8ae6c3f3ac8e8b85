using Allocations.Access;
using Allocations.Domain;
using Allocations.Exceptions;
using Allocations.Journal;
using Allocations.Storage;

namespace Allocations.Catalogue;

/// <summary>A retroactive correction of a SKU's rate over a period: the rules it covers are replaced (a rule reaching
/// past either end keeps that part at its old rate), and the correction is journalled. Stored events are never
/// touched: re-rating them is a separate, previewed operation.</summary>
internal static class RateCorrection
{
    internal static IReadOnlyList<RateRule> Correct(UnitOfWork uow, OrganizationId organization, SkuCode sku, long fromNs, long? toNs, Rate rate, string reason)
    {
        var session = uow.Session;
        uow.Access.RequireOrganization(organization, Operation.ManageCatalogue);
        var skuRow = session.FindSku(organization.Value, CodeRules.Key(sku.Value)) ?? throw new NotFoundException(sku);
        var rules = session.ListSkuRules(skuRow.Id);
        var journal = uow.Journal;
        var replaced = new List<string>();
        var kept = new List<string>();
        foreach (var rule in rules)
        {
            var end = rule.ToNs ?? long.MaxValue;
            if (end <= fromNs || (toNs is { } t && rule.FromNs >= t))
            {
                continue;
            }
            replaced.Add(CatalogueService.RuleJson(journal, rule.Id, rule.FromNs, rule.ToNs, rule.Rate));
            var keepsLeft = rule.FromNs < fromNs;
            var keepsRight = toNs is { } to && end > to;
            if (keepsLeft)
            {
                session.SetRuleEnd(rule.Id, fromNs);
                kept.Add(CatalogueService.RuleJson(journal, rule.Id, rule.FromNs, fromNs, rule.Rate));
            }
            if (keepsRight && keepsLeft)
            {
                var id = session.InsertRule(skuRow.Id, null, toNs!.Value, rule.ToNs, rule.Rate, uow.NowNs, uow.Actor.Id);
                kept.Add(CatalogueService.RuleJson(journal, id, toNs.Value, rule.ToNs, rule.Rate));
            }
            else if (keepsRight)
            {
                session.SetRuleStart(rule.Id, toNs!.Value);
                kept.Add(CatalogueService.RuleJson(journal, rule.Id, toNs.Value, rule.ToNs, rule.Rate));
            }
            else if (!keepsLeft)
            {
                session.DeleteRule(rule.Id);
            }
        }
        var added = session.InsertRule(skuRow.Id, null, fromNs, toNs, rate.Nanos, uow.NowNs, uow.Actor.Id);
        journal.Append(
            organization.Value,
            null,
            "rate.correct",
            "sku:" + skuRow.Code,
            journal.Object(("rules", new RawJson("[" + string.Join(',', replaced) + "]"))),
            journal.Object(
                ("added", new RawJson(CatalogueService.RuleJson(journal, added, fromNs, toNs, rate.Nanos))),
                ("kept", new RawJson("[" + string.Join(',', kept) + "]")),
                ("reason", reason)));
        return session.ListSkuRules(skuRow.Id).Select(RowMapping.ToRule).ToList();
    }
}
