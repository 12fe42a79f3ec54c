using Microsoft.Extensions.Options;
using Notifications.Stores;
using ZiggyCreatures.Caching.Fusion;

namespace Api.Caching;

/// <summary>
/// The form and the student a submission needs, read through FusionCache instead of the store on every
/// request: a burst of submissions asks for the same few forms and, per student, the same record. A
/// student upload that changes existing records evicts every cached student at once (by tag, on every
/// Api instance through the backplane), so a corrected phone number is used by the next confirmation.
/// A missing record is not cached: the store's NotFound reaches the caller every time.
/// </summary>
public sealed partial class RecordCache(IFusionCache cache, IFormStore forms, IStudentStore students, IOptions<ApiCacheOptions> options,
    TimeProvider time, ILogger<RecordCache> logger)
{
    private static readonly string[] s_formTags = [CacheKeys.FormRecordsTag];
    private static readonly string[] s_studentTags = [CacheKeys.StudentRecordsTag];

    // From the cache's defaults (Program.cs), so a damaged entry in Redis is a miss here too.
    private readonly FusionCacheEntryOptions _entry = cache.CreateEntryOptions(
        entry => entry.MemoryCacheDuration = options.Value.MemoryDurationFor(options.Value.RecordTtl), options.Value.RecordTtl);

    public ValueTask<Form> GetFormAsync(string id, CancellationToken cancellationToken) =>
        cache.GetOrSetAsync<Form>(CacheKeys.FormRecord(id), (_, ct) => forms.GetAsync(id, ct), default,
            _entry, s_formTags, cancellationToken);

    public ValueTask<Student> GetStudentAsync(string id, CancellationToken cancellationToken) =>
        cache.GetOrSetAsync<Student>(CacheKeys.StudentRecord(id), (_, ct) => students.GetAsync(id, ct), default,
            _entry, s_studentTags, cancellationToken);

    /// <summary>
    /// After students were changed in the store: no cached student record is served again. A load that read
    /// the store just before the change may store the old record just after this eviction; a second
    /// eviction <see cref="ApiCacheOptions.ReevictDelay"/> later removes that one too. Not cancellable:
    /// the change is committed, so the eviction must happen even when the request that made it goes away.
    /// </summary>
    public async Task StudentsChangedAsync()
    {
        await cache.RemoveByTagAsync(CacheKeys.StudentRecordsTag).ConfigureAwait(false);
        _ = EvictStudentsAgainAsync();
    }

    private async Task EvictStudentsAgainAsync()
    {
        try
        {
            await Task.Delay(options.Value.ReevictDelay, time).ConfigureAwait(false);
            await cache.RemoveByTagAsync(CacheKeys.StudentRecordsTag).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            LogReevictFailed(logger, ex);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The second eviction of cached student records failed; they expire with their TTL")]
    private static partial void LogReevictFailed(ILogger logger, Exception exception);
}
