namespace Notifications.Stores;

/// <summary>One question on a form.</summary>
public sealed record FormField(string Name, string Label, string Type = FormField.TextType, bool Required = false)
{
    public const string TextType = "text";
}

/// <summary>A form students can submit while it is active.</summary>
public sealed record Form(string Id, string Title, bool IsActive, IReadOnlyList<FormField> Fields, DateTimeOffset CreatedAt);

/// <summary>A form to create; <see cref="Id"/> may be given when seeding, otherwise one is made.</summary>
public sealed record NewForm(string Title, bool IsActive, IReadOnlyList<FormField> Fields, string? Id = null);

public interface IFormStore
{
    /// <exception cref="DuplicateKeyException">A form already has the given id.</exception>
    Task<Form> CreateAsync(NewForm form, CancellationToken cancellationToken = default);

    /// <summary>Active forms ordered by title.</summary>
    Task<IReadOnlyList<Form>> ListActiveAsync(CancellationToken cancellationToken = default);

    /// <exception cref="NotFoundException">No form has <paramref name="id"/>.</exception>
    Task<Form> GetAsync(string id, CancellationToken cancellationToken = default);
}
