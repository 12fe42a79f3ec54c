namespace Notifications.Stores;

/// <summary>A student as stored. <see cref="RollNumber"/> is the unique key uploads match on.</summary>
public sealed record Student(
    string Id,
    string RollNumber,
    string Name,
    string Email,
    string Phone,
    string? BatchId,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt);

/// <summary>One row of a student upload. <see cref="Phone"/> is E.164 (<c>+919876543210</c>).</summary>
public sealed record StudentUpsert(string RollNumber, string Name, string Email, string Phone, string? BatchId = null);

/// <summary>What a bulk upsert did: rows created and existing rows overwritten.</summary>
public sealed record UpsertCounts(int Inserted, int Updated)
{
    /// <summary>The roll numbers that were new: the students to welcome.</summary>
    public IReadOnlyList<string> InsertedRollNumbers { get; init; } = [];

    /// <summary>The notifications stored in the outbox with the new students (their welcomes).</summary>
    public int NotificationsStored { get; init; }
}

/// <summary>Students, keyed by roll number.</summary>
public interface IStudentStore
{
    /// <summary>
    /// Inserts new roll numbers and overwrites existing ones, all or nothing: an invalid row fails the whole
    /// call before anything is written. A roll number repeated in one call is stored once (the last row wins).
    /// </summary>
    Task<UpsertCounts> UpsertManyAsync(IReadOnlyCollection<StudentUpsert> students, CancellationToken cancellationToken = default) =>
        UpsertManyAsync(students, null, cancellationToken);

    /// <summary>
    /// As <see cref="UpsertManyAsync(IReadOnlyCollection{StudentUpsert}, CancellationToken)"/>, and in the same
    /// transaction stores in the outbox what <paramref name="welcome"/> builds for each student the call creates
    /// (not for those it updates).
    /// </summary>
    Task<UpsertCounts> UpsertManyAsync(IReadOnlyCollection<StudentUpsert> students, NotificationsFor<Student>? welcome, CancellationToken cancellationToken);

    /// <summary>Students ordered by roll number.</summary>
    Task<Page<Student>> ListAsync(PageRequest page, CancellationToken cancellationToken = default);

    /// <exception cref="NotFoundException">No student has <paramref name="id"/>.</exception>
    Task<Student> GetAsync(string id, CancellationToken cancellationToken = default);

    /// <exception cref="NotFoundException">No student has <paramref name="rollNumber"/>.</exception>
    Task<Student> GetByRollNumberAsync(string rollNumber, CancellationToken cancellationToken = default);

    /// <summary>The students with these ids, ordered by roll number; unknown ids are left out.</summary>
    Task<IReadOnlyList<Student>> GetManyAsync(IReadOnlyCollection<string> ids, CancellationToken cancellationToken = default);

    /// <summary>The students uploaded with <see cref="StudentUpsert.BatchId"/> equal to <paramref name="batchId"/>, ordered by roll number.</summary>
    Task<IReadOnlyList<Student>> ListByBatchAsync(string batchId, CancellationToken cancellationToken = default);
}
