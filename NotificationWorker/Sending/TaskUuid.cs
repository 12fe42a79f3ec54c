using System.Security.Cryptography;
using System.Text;

namespace NotificationWorker.Sending;

/// <summary>
/// A name-based UUID (RFC 9562 version 5) of a task id: the same task always gives the same UUID, so a
/// provider that deduplicates by a UUID key (Brevo's <c>idempotencyKey</c>) recognises a retry.
/// </summary>
public static class TaskUuid
{
    // This product's namespace: keeps our UUIDs apart from any other name-based UUIDs of the same ids.
    private static readonly Guid Namespace = new("6f1f8a53-2c8e-4d0e-9b8a-6d3b1c2f7a41");

    public static Guid For(string taskId)
    {
        var name = Encoding.UTF8.GetBytes(taskId);
        var input = new byte[16 + name.Length];
        Namespace.TryWriteBytes(input, bigEndian: true, out _);
        name.CopyTo(input, 16);
#pragma warning disable CA5350 // SHA-1 is what version 5 UUIDs are defined with; this is an identifier, not a signature.
        var hash = SHA1.HashData(input);
#pragma warning restore CA5350
        hash[6] = (byte)((hash[6] & 0x0F) | 0x50);
        hash[8] = (byte)((hash[8] & 0x3F) | 0x80);
        return new Guid(hash.AsSpan(0, 16), bigEndian: true);
    }
}
