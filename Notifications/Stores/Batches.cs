namespace Notifications.Stores;

/// <summary>A named group of students that staff notify together. <see cref="StudentIds"/> keep the order they were added in.</summary>
public sealed record Batch(string Id, string Name, DateTimeOffset CreatedAt, IReadOnlyList<string> StudentIds);

public sealed record NewBatch(string Name, IReadOnlyCollection<string>? StudentIds = null);

/// <summary>A student who has just joined <see cref="Batch"/>: what a batch notice is built from.</summary>
public sealed record BatchMember(Batch Batch, Student Student);

/// <summary>A batch after a change, the students the change added, and the ids of the notifications stored for them.</summary>
public sealed record BatchChange(Batch Batch, IReadOnlyList<string> AddedStudentIds, IReadOnlyList<string> NotificationIds);

public interface IBatchStore
{
    /// <exception cref="DuplicateKeyException">A batch already has this name.</exception>
    /// <exception cref="NotFoundException">A student id is unknown; nothing is created.</exception>
    async Task<Batch> CreateAsync(NewBatch batch, CancellationToken cancellationToken = default) =>
        (await CreateAsync(batch, null, cancellationToken).ConfigureAwait(false)).Batch;

    /// <summary>Creates the batch and, in the same transaction, stores in the outbox what <paramref name="notice"/> builds for each of its students.</summary>
    /// <exception cref="DuplicateKeyException">A batch already has this name.</exception>
    /// <exception cref="NotFoundException">A student id is unknown; nothing is created.</exception>
    Task<BatchChange> CreateAsync(NewBatch batch, NotificationsFor<BatchMember>? notice, CancellationToken cancellationToken);

    /// <summary>Adds students not yet in the batch; ids already in it are ignored.</summary>
    /// <exception cref="NotFoundException">The batch or a student id is unknown; nothing is added.</exception>
    async Task<Batch> AddStudentsAsync(string batchId, IReadOnlyCollection<string> studentIds, CancellationToken cancellationToken = default) =>
        (await AddStudentsAsync(batchId, studentIds, null, cancellationToken).ConfigureAwait(false)).Batch;

    /// <summary>
    /// Adds students not yet in the batch and, in the same transaction, stores in the outbox what
    /// <paramref name="notice"/> builds for each one it added (not for those already in it).
    /// </summary>
    /// <exception cref="NotFoundException">The batch or a student id is unknown; nothing is added.</exception>
    Task<BatchChange> AddStudentsAsync(string batchId, IReadOnlyCollection<string> studentIds, NotificationsFor<BatchMember>? notice, CancellationToken cancellationToken);

    /// <summary>Batches, newest first.</summary>
    Task<Page<Batch>> ListAsync(PageRequest page, CancellationToken cancellationToken = default);

    /// <exception cref="NotFoundException">No batch has <paramref name="id"/>.</exception>
    Task<Batch> GetAsync(string id, CancellationToken cancellationToken = default);
}
