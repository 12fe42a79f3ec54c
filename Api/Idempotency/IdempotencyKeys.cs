using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
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
    /// <exception cref="BadHttpRequestException">The header is empty or too long.</exception>
    public static string? FromRequest(HttpContext context, string scope)
    {
        if (!context.Request.Headers.TryGetValue(HeaderName, out var values))
        {
            return null;
        }
        var value = values.ToString();
        if (value.Length is 0 or > MaxHeaderLength)
        {
            throw new BadHttpRequestException($"{HeaderName} must have 1 to {MaxHeaderLength} characters.");
        }
        var caller = context.User.FindFirst("sub")?.Value ?? "";
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes($"{scope}\n{caller}\n{value}"));
        return Convert.ToHexStringLower(hash.AsSpan(0, 16));
    }
}

/// <summary>
/// Remembers the answer given to a request with an <c>Idempotency-Key</c> for a day, so a retry gets
/// the same ids. Best effort: without Redis the retry is answered afresh, and the notification keys
/// (derived from the same header) still keep it from queueing twice.
/// </summary>
public sealed class IdempotentResponses(IConnectionMultiplexer redis)
{
    public static readonly TimeSpan Lifetime = TimeSpan.FromHours(24);
    private static readonly JsonSerializerOptions s_json = new(JsonSerializerDefaults.Web);

    public async Task<T?> FindAsync<T>(string? key) where T : class
    {
        if (key is null || !redis.IsConnected)
        {
            return null;
        }
        try
        {
            var stored = await redis.GetDatabase().StringGetAsync(RedisKeyOf(key)).ConfigureAwait(false);
            return stored.IsNull ? null : JsonSerializer.Deserialize<T>((string)stored!, s_json);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            return null;
        }
    }

    public async Task SaveAsync<T>(string? key, T response)
    {
        if (key is null || !redis.IsConnected)
        {
            return;
        }
        try
        {
            await redis.GetDatabase().StringSetAsync(RedisKeyOf(key), JsonSerializer.Serialize(response, s_json), Lifetime).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            // The answer is already durable; only the replay of it is lost.
        }
    }

    private static RedisKey RedisKeyOf(string key) => "api:idempotency:" + key;
}

/// <summary>An Idempotency-Key sent again with a different request, or long after its first use (422).</summary>
public sealed class IdempotencyKeyReusedException(string message) : Exception(message);
