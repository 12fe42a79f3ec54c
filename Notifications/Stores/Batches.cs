namespace Notifications.Stores;

/// <summary>A named group of students that staff notify together. <see cref="StudentIds"/> keep the order they were added in.</summary>
public sealed record Batch(string Id, string Name, DateTimeOffset CreatedAt, IReadOnlyList<string> StudentIds);

public sealed record NewBatch(string Name, IReadOnlyCollection<string>? StudentIds = null);

public interface IBatchStore
{
    /// <exception cref="DuplicateKeyException">A batch already has this name.</exception>
    /// <exception cref="NotFoundException">A student id is unknown; nothing is created.</exception>
    Task<Batch> CreateAsync(NewBatch batch, CancellationToken cancellationToken = default);

    /// <summary>Adds students not yet in the batch; ids already in it are ignored.</summary>
    /// <exception cref="NotFoundException">The batch or a student id is unknown; nothing is added.</exception>
    Task<Batch> AddStudentsAsync(string batchId, IReadOnlyCollection<string> studentIds, CancellationToken cancellationToken = default);

    /// <summary>Batches, newest first.</summary>
    Task<Page<Batch>> ListAsync(PageRequest page, CancellationToken cancellationToken = default);

    /// <exception cref="NotFoundException">No batch has <paramref name="id"/>.</exception>
    Task<Batch> GetAsync(string id, CancellationToken cancellationToken = default);
}
