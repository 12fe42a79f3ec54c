using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Notifications.Tasks;

/// <summary>
/// Task ids are ULIDs: 26 characters, unique without coordination (80 random bits per millisecond,
/// unlike the old plan's <c>task_{ms}</c>), and ordered by creation time, which gives the age of the
/// oldest pending task without reading its body.
/// </summary>
/// <remarks>
/// Monotonic within a process: an id made in the same millisecond as the previous one (or after the clock
/// stepped back) takes the previous one's random part plus one, so ids sort in the order they were made.
/// Redis breaks ties between equal scores by member, so "the oldest dead letter" of one millisecond is the
/// one made first, not a coin toss (a CI run once evicted the newer of two dead letters made 1 ms apart).
/// </remarks>
public static class TaskIds
{
    private static readonly MonotonicUlids s_ids = new();

    public static string New() => s_ids.Next(DateTimeOffset.UtcNow).ToString();

    public static bool TryGetCreatedAt(string id, out DateTimeOffset createdAt)
    {
        if (System.Ulid.TryParse(id, out var ulid))
        {
            createdAt = ulid.Time;
            return true;
        }
        createdAt = default;
        return false;
    }
}

/// <summary>ULIDs that sort in the order they were made (see <see cref="TaskIds"/>).</summary>
internal sealed class MonotonicUlids
{
    private readonly Lock _gate = new();
    private long _lastMilliseconds;
    // The 80-bit random part, big-endian, as ULID lays it out.
    private readonly byte[] _random = new byte[10];

    public Ulid Next(DateTimeOffset now)
    {
        Span<byte> bytes = stackalloc byte[16];
        lock (_gate)
        {
            var milliseconds = now.ToUnixTimeMilliseconds();
            if (milliseconds > _lastMilliseconds)
            {
                _lastMilliseconds = milliseconds;
                RandomNumberGenerator.Fill(_random);
            }
            else if (!Increment(_random))
            {
                // 2^80 ids in one millisecond cannot happen; if the random part wraps, borrow the next millisecond.
                _lastMilliseconds++;
                RandomNumberGenerator.Fill(_random);
            }
            BinaryPrimitives.WriteInt64BigEndian(bytes[..8], _lastMilliseconds << 16);
            _random.CopyTo(bytes[6..]);
        }
        return new Ulid(bytes);
    }

    /// <returns>False when the value wrapped around to zero.</returns>
    private static bool Increment(byte[] bigEndian)
    {
        for (var i = bigEndian.Length - 1; i >= 0; i--)
        {
            if (++bigEndian[i] != 0)
            {
                return true;
            }
        }
        return false;
    }
}
