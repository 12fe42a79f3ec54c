using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Notifications.Stores;
using StackExchange.Redis;

namespace Api.Idempotency;

/// <summary>
/// The <c>Idempotency-Key</c> header of a write. Its value is hashed with the caller's identity and the
/// route, so two callers (or two routes) using the same key never share a result.
/// </summary>
public static class IdempotencyKeys
{
    public const string HeaderName = "Idempotency-Key";
    public const int MaxHeaderLength = 200;

    /// <returns>A short key for this caller and scope, or null without the header.</returns>
    /// <exception cref="InvalidFieldException">The header is empty or too long (a 400 naming the header).</exception>
    public static string? FromRequest(HttpContext context, string scope)
    {
        if (!context.Request.Headers.TryGetValue(HeaderName, out var values))
        {
            return null;
        }
        var value = values.ToString();
        if (value.Length is 0 or > MaxHeaderLength)
        {
            throw new InvalidFieldException(HeaderName, $"must have 1 to {MaxHeaderLength} characters; this one has {value.Length}.");
        }
        var caller = context.User.FindFirst("sub")?.Value ?? "";
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes($"{scope}\n{caller}\n{value}"));
        return Convert.ToHexStringLower(hash.AsSpan(0, 16));
    }
}

/// <summary>
/// Remembers the answer given to a request with an <c>Idempotency-Key</c> for a day, with a fingerprint of the
/// request, so a retry gets the same ids and the same key sent with another request gets a 422. Best effort:
/// without Redis the retry is answered afresh, and the records and notification keys derived from the same header
/// still keep it from being stored or queued twice.
/// </summary>
public sealed class IdempotentResponses(IConnectionMultiplexer redis)
{
    public static readonly TimeSpan Lifetime = TimeSpan.FromHours(24);
    private static readonly JsonSerializerOptions s_json = new(JsonSerializerDefaults.Web);

    /// <summary>A hash of what a request asks for, in an order the caller makes canonical.</summary>
    public static string Fingerprint(IEnumerable<string?> parts)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var part in parts)
        {
            // Length-prefixed, so ["ab", "c"] and ["a", "bc"] differ.
            var bytes = Encoding.UTF8.GetBytes(part ?? "");
            hash.AppendData(BitConverter.GetBytes(part is null ? -1 : bytes.Length));
            hash.AppendData(bytes);
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <returns>The earlier answer to this key, or null when there is none (or Redis does not answer).</returns>
    /// <exception cref="IdempotencyKeyReusedException">The key was used for a request with another fingerprint.</exception>
    public async Task<T?> FindAsync<T>(string? key, string fingerprint) where T : class
    {
        if (key is null || !redis.IsConnected)
        {
            return null;
        }
        RedisValue stored;
        try
        {
            stored = await redis.GetDatabase().StringGetAsync(RedisKeyOf(key)).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            return null;
        }
        if (stored.IsNull || Read<T>(stored) is not { Response: { } response } saved)
        {
            return null;
        }
        return saved.Fingerprint == fingerprint
            ? response
            : throw new IdempotencyKeyReusedException("This Idempotency-Key was already used for a different request; send this one with a new key.");
    }

    public async Task SaveAsync<T>(string? key, string fingerprint, T response)
    {
        if (key is null || !redis.IsConnected)
        {
            return;
        }
        try
        {
            var saved = JsonSerializer.Serialize(new SavedResponse<T>(fingerprint, response), s_json);
            await redis.GetDatabase().StringSetAsync(RedisKeyOf(key), saved, Lifetime).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            // The answer is already durable; only the replay of it is lost.
        }
    }

    /// <summary>
    /// A saved answer that cannot be read (written by another version, or damaged) counts as none: the request is
    /// answered afresh, and the ids derived from its key still keep it from being stored or queued twice.
    /// </summary>
    private static SavedResponse<T>? Read<T>(RedisValue stored)
    {
        try
        {
            return JsonSerializer.Deserialize<SavedResponse<T>>((string)stored!, s_json);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static RedisKey RedisKeyOf(string key) => "api:idempotency:" + key;

    private sealed record SavedResponse<T>(string Fingerprint, T Response);
}

/// <summary>An Idempotency-Key sent again with a different request, or long after its first use (422).</summary>
public sealed class IdempotencyKeyReusedException(string message) : Exception(message);
