using MongoDB.Driver;

namespace Notifications.Stores.MongoDb;

internal sealed class MongoFormStore(MongoDocumentDatabase database, TimeProvider time) : IFormStore
{
    private static readonly FilterDefinitionBuilder<FormDocument> s_filter = Builders<FormDocument>.Filter;

    public async Task<Form> CreateAsync(NewForm form, CancellationToken cancellationToken = default)
    {
        var input = StoreInput.Form(form);
        var document = new FormDocument
        {
            Id = input.Id!,
            Title = input.Title,
            IsActive = input.IsActive,
            Fields = input.Fields.Select(f => new FormFieldDocument { Name = f.Name, Label = f.Label, Type = f.Type, Required = f.Required }).ToList(),
            CreatedAt = FieldValidation.ToStoredPrecision(time.GetUtcNow()).UtcDateTime,
        };
        try
        {
            await database.Forms.InsertOneAsync(document, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (MongoWriteException ex) when (ex.IsDuplicateKey())
        {
            throw new DuplicateKeyException("form", "id", document.Id, ex);
        }
        return ToForm(document);
    }

    public async Task<IReadOnlyList<Form>> ListActiveAsync(CancellationToken cancellationToken = default)
    {
        var found = await database.Forms.Find(s_filter.Eq(f => f.IsActive, true)).SortBy(f => f.Title).ThenBy(f => f.Id)
            .ToListAsync(cancellationToken).ConfigureAwait(false);
        return found.ConvertAll(ToForm);
    }

    public async Task<Form> GetAsync(string id, CancellationToken cancellationToken = default)
    {
        var checkedId = StoreInput.Id(id);
        var found = await database.Forms.Find(s_filter.Eq(f => f.Id, checkedId)).FirstOrDefaultAsync(cancellationToken).ConfigureAwait(false);
        return found is null ? throw new NotFoundException("form", checkedId) : ToForm(found);
    }

    private static Form ToForm(FormDocument d) =>
        new(d.Id, d.Title, d.IsActive, d.Fields.ConvertAll(f => new FormField(f.Name, f.Label, f.Type, f.Required)), d.CreatedAt.ToOffset());
}
