using Notifications.Tasks;
using System.ComponentModel.DataAnnotations;
using MailKit.Security;

namespace NotificationWorker.Sending;

/// <summary>Settings every provider shares (section <c>Sending</c>).</summary>
public sealed class SendingOptions : IValidatableObject
{
    public const string SectionName = "Sending";
    public static readonly TimeSpan DefaultConfigurationFaultRetryAfter = TimeSpan.FromMinutes(5);
    public static readonly TimeSpan DefaultMaxRateLimitWait = TimeSpan.FromSeconds(2);

    /// <summary>
    /// How long a task waits when the provider rejects our account (bad credentials, no credit,
    /// sender not allowed): long enough for an operator to fix it, short enough not to lose the day.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan ConfigurationFaultRetryAfter { get; set; } = DefaultConfigurationFaultRetryAfter;

    /// <summary>A send waits at most this long for its rate-limit slot; past it the task is retried later.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:01:00")]
    public TimeSpan MaxRateLimitWait { get; set; } = DefaultMaxRateLimitWait;

    [Required]
    public CircuitBreakerSettings CircuitBreaker { get; set; } = new();

    /// <summary>Per provider name (<see cref="ProviderNames"/>), shared by every worker process through Redis.</summary>
    public Dictionary<string, RateLimitSettings> RateLimits { get; set; } = new(StringComparer.OrdinalIgnoreCase)
    {
        [ProviderNames.BulkSms] = new() { PerSecond = 10 },
        [ProviderNames.Brevo] = new() { PerSecond = 10 },
        [ProviderNames.Smtp] = new() { PerSecond = 5 },
    };

    /// <summary>Data annotations do not look inside nested objects: validate them here.</summary>
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        var nested = RateLimits.Select(limit => ($"{nameof(RateLimits)}:{limit.Key}", (object)limit.Value))
            .Prepend((nameof(CircuitBreaker), CircuitBreaker));
        foreach (var (path, value) in nested)
        {
            var results = new List<ValidationResult>();
            Validator.TryValidateObject(value, new ValidationContext(value), results, validateAllProperties: true);
            foreach (var result in results)
            {
                yield return new ValidationResult($"{path}: {result.ErrorMessage}", result.MemberNames.Select(m => $"{path}:{m}"));
            }
        }
    }
}

public sealed class CircuitBreakerSettings
{
    [Range(0.01, 1.0)]
    public double FailureRatio { get; set; } = 0.5;

    [Range(2, 10_000)]
    public int MinimumThroughput { get; set; } = 5;

    [Range(typeof(TimeSpan), "00:00:00.5", "01:00:00")]
    public TimeSpan SamplingDuration { get; set; } = TimeSpan.FromSeconds(30);

    [Range(typeof(TimeSpan), "00:00:00.5", "01:00:00")]
    public TimeSpan BreakDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The same permanent refusal for this many different recipients in a row is taken as our request's fault.</summary>
    [Range(2, 1000)]
    public int IdenticalRefusalLimit { get; set; } = 3;
}

public sealed class RateLimitSettings
{
    /// <summary>Sends per second for the provider across all workers; 0 turns the limit off.</summary>
    [Range(0, 100_000)]
    public double PerSecond { get; set; }

    /// <summary>How many sends may go back to back after a quiet spell.</summary>
    [Range(1, 10_000)]
    public int Burst { get; set; } = 1;
}

/// <summary>BulkSMS JSON API v1 (section <c>Sending:BulkSms</c>; env <c>BULKSMS_USERNAME</c>, <c>BULKSMS_PASSWORD</c>).</summary>
public sealed class BulkSmsOptions
{
    public const string SectionName = "Sending:BulkSms";
    public const string DefaultBaseUrl = "https://api.bulksms.com/v1/";

    [Required, Url]
    public string BaseUrl { get; set; } = DefaultBaseUrl;

    public string? Username { get; set; }

    public string? Password { get; set; }

    /// <summary>Sender id; empty uses the account's default.</summary>
    public string? From { get; set; }

    /// <summary>Send names with characters outside GSM 03.38 as Unicode instead of replacing them with '?'.</summary>
    public bool AutoUnicode { get; set; } = true;

    [Range(typeof(TimeSpan), "00:00:01", "00:05:00")]
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(20);

    public bool IsConfigured => !string.IsNullOrWhiteSpace(Username) && !string.IsNullOrWhiteSpace(Password);
}

/// <summary>Brevo transactional email API (section <c>Sending:Brevo</c>; env <c>BREVO_API_KEY</c>).</summary>
public sealed class BrevoOptions : IValidatableObject
{
    public const string SectionName = "Sending:Brevo";
    public const string DefaultBaseUrl = "https://api.brevo.com/v3/";

    [Required, Url]
    public string BaseUrl { get; set; } = DefaultBaseUrl;

    public string? ApiKey { get; set; }

    [EmailAddress]
    public string? SenderEmail { get; set; }

    public string? SenderName { get; set; }

    [Range(typeof(TimeSpan), "00:00:01", "00:05:00")]
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(20);

    public bool IsConfigured => !string.IsNullOrWhiteSpace(ApiKey);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (IsConfigured && string.IsNullOrWhiteSpace(SenderEmail))
        {
            yield return new ValidationResult("Brevo needs a verified sender address when an API key is set.", [nameof(SenderEmail)]);
        }
    }
}

/// <summary>SMTP through MailKit (section <c>Sending:Smtp</c>).</summary>
public sealed class SmtpOptions : IValidatableObject
{
    public const string SectionName = "Sending:Smtp";

    public string? Host { get; set; }

    [Range(1, 65535)]
    public int Port { get; set; } = 587;

    /// <summary>MailKit's names: None, Auto, SslOnConnect, StartTls, StartTlsWhenAvailable.</summary>
    public SecureSocketOptions Security { get; set; } = SecureSocketOptions.Auto;

    public string? UserName { get; set; }

    public string? Password { get; set; }

    [EmailAddress]
    public string? FromAddress { get; set; }

    public string? FromName { get; set; }

    [Range(typeof(TimeSpan), "00:00:01", "00:05:00")]
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(30);

    public bool IsConfigured => !string.IsNullOrWhiteSpace(Host);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (IsConfigured && string.IsNullOrWhiteSpace(FromAddress))
        {
            yield return new ValidationResult("SMTP needs a From address when a host is set.", [nameof(FromAddress)]);
        }
    }
}

