using System.Text.RegularExpressions;
using MongoDB.Bson;
using MongoDB.Driver;
using Notifications.Tasks;

namespace Notifications.Stores.MongoDb;

/// <summary>
/// The suppression list: one document per address (its id is <c>channel:address</c>, so an address is there
/// once), each change written with its audit document in one transaction.
/// </summary>
internal sealed class MongoSuppressionList(MongoDocumentDatabase database, TimeProvider time) : ISuppressionList
{
    private const int DuplicateKey = 11000;
    private static readonly FilterDefinitionBuilder<SuppressionDocument> s_filter = Builders<SuppressionDocument>.Filter;

    public async Task<bool> AddAsync(Suppression suppression, CancellationToken cancellationToken = default)
    {
        var input = StoreInput.Suppression(suppression);
        try
        {
            return await database.InTransactionAsync(async (session, ct) =>
            {
                await database.Suppressions.InsertOneAsync(session, ToDocument(input), cancellationToken: ct).ConfigureAwait(false);
                await database.SuppressionAudit.InsertOneAsync(session, ToAudit(new SuppressionAuditEntry(
                    SuppressionAuditEntry.Added, input.Channel, input.Address, input.Reason, input.Source ?? "unknown", input.At)), cancellationToken: ct).ConfigureAwait(false);
                return true;
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (MongoWriteException ex) when (ex.WriteError?.Code == DuplicateKey)
        {
            return false; // already on the list: the first reason stays
        }
    }

    public async Task<Suppression?> FindAsync(NotificationType channel, string address, CancellationToken cancellationToken = default)
    {
        var checkedChannel = StoreInput.Channel(channel);
        var id = SuppressionDocument.IdOf(checkedChannel, StoreInput.SuppressionAddress(checkedChannel, address));
        var found = await database.Suppressions.Find(s_filter.Eq(d => d.Id, id)).FirstOrDefaultAsync(cancellationToken).ConfigureAwait(false);
        return found is null ? null : ToSuppression(found);
    }

    public async Task<Page<Suppression>> ListAsync(string? search, PageRequest page, CancellationToken cancellationToken = default)
    {
        var filter = BuildSearchFilter(StoreInput.Search(search));
        page.Validate();
        var total = await database.Suppressions.CountDocumentsAsync(filter, cancellationToken: cancellationToken).ConfigureAwait(false);
        var items = await database.Suppressions.Find(filter).SortByDescending(d => d.At).ThenBy(d => d.Address)
            .Skip(page.Offset).Limit(page.Limit).ToListAsync(cancellationToken).ConfigureAwait(false);
        return new Page<Suppression>(items.ConvertAll(ToSuppression), total, page.Offset, page.Limit);
    }

    /// <summary>Part of the address, as text: the term is escaped, so '.' or '+' in it match only themselves.</summary>
    internal static FilterDefinition<SuppressionDocument> BuildSearchFilter(string? term) => term is null
        ? s_filter.Empty
        : s_filter.Regex(d => d.Address, new BsonRegularExpression(Regex.Escape(term)));

    public async Task<Suppression> LiftAsync(NotificationType channel, string address, string actor, string? note, CancellationToken cancellationToken = default)
    {
        var checkedChannel = StoreInput.Channel(channel);
        var checkedAddress = StoreInput.SuppressionAddress(checkedChannel, address);
        var checkedActor = FieldValidation.Required(actor, "actor", FieldLimits.Actor);
        var checkedNote = FieldValidation.Optional(note, "note", FieldLimits.SuppressionReason);
        var id = SuppressionDocument.IdOf(checkedChannel, checkedAddress);
        return await database.InTransactionAsync(async (session, ct) =>
        {
            var lifted = await database.Suppressions.FindOneAndDeleteAsync(session, s_filter.Eq(d => d.Id, id), cancellationToken: ct).ConfigureAwait(false)
                ?? throw new NotFoundException("suppression", checkedAddress);
            await database.SuppressionAudit.InsertOneAsync(session, ToAudit(new SuppressionAuditEntry(SuppressionAuditEntry.Lifted, checkedChannel,
                checkedAddress, checkedNote, checkedActor, FieldValidation.ToStoredPrecision(time.GetUtcNow()))), cancellationToken: ct).ConfigureAwait(false);
            return ToSuppression(lifted);
        }, cancellationToken).ConfigureAwait(false);
    }

    public async Task<Page<SuppressionAuditEntry>> ListAuditAsync(NotificationType? channel, string? address, PageRequest page,
        CancellationToken cancellationToken = default)
    {
        var (checkedChannel, checkedAddress) = StoreInput.AuditFilter(channel, address);
        page.Validate();
        var filter = BuildAuditFilter(checkedChannel, checkedAddress);
        var total = await database.SuppressionAudit.CountDocumentsAsync(filter, cancellationToken: cancellationToken).ConfigureAwait(false);
        // ObjectIds grow with insertion (time, then a counter per process): newest first, as SQLite's row id.
        var items = await database.SuppressionAudit.Find(filter).SortByDescending(d => d.Id).Skip(page.Offset).Limit(page.Limit)
            .ToListAsync(cancellationToken).ConfigureAwait(false);
        return new Page<SuppressionAuditEntry>(
            items.ConvertAll(d => new SuppressionAuditEntry(d.Action, d.Channel, d.Address, d.Reason, d.Actor, d.At.ToOffset())), total, page.Offset, page.Limit);
    }

    internal static FilterDefinition<SuppressionAuditDocument> BuildAuditFilter(NotificationType? channel, string? address)
    {
        var f = Builders<SuppressionAuditDocument>.Filter;
        var clauses = new List<FilterDefinition<SuppressionAuditDocument>>();
        if (channel is { } c) { clauses.Add(f.Eq(d => d.Channel, c)); }
        if (address is not null) { clauses.Add(f.Eq(d => d.Address, address)); }
        return clauses.Count == 0 ? f.Empty : f.And(clauses);
    }

    internal static SuppressionDocument ToDocument(Suppression s) => new()
    {
        Id = SuppressionDocument.IdOf(s.Channel, s.Address),
        Channel = s.Channel,
        Address = s.Address,
        Reason = s.Reason,
        Source = s.Source,
        TaskId = s.TaskId,
        At = s.At.UtcDateTime,
    };

    private static SuppressionAuditDocument ToAudit(SuppressionAuditEntry e) => new()
    {
        Id = ObjectId.GenerateNewId(),
        Action = e.Action,
        Channel = e.Channel,
        Address = e.Address,
        Reason = e.Reason,
        Actor = e.Actor,
        At = e.At.UtcDateTime,
    };

    private static Suppression ToSuppression(SuppressionDocument d) =>
        new(d.Channel, d.Address, d.Reason, d.At.ToOffset()) { Source = d.Source, TaskId = d.TaskId };
}
