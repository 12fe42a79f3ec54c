using System.Text;
using static AppHost.Deployment.UbuntuVmLayout;

namespace AppHost.Deployment;

/// <summary>
/// Templates for <c>/etc/notification-pipeline/*.env</c> (systemd EnvironmentFile syntax: no expansion,
/// no quotes needed). <c>__NAME__</c> marks a secret: install.sh generates the internal ones and lists
/// the provider accounts still to fill in.
/// </summary>
internal static class EnvironmentFiles
{
    public static string Shared() => $$"""
        {{UbuntuVmDeployment.Header()}}
        # Read by every service unit (EnvironmentFile=). The old plan's variables, same names.

        # Equivalent of the old FLASK_ENV=production.
        ASPNETCORE_ENVIRONMENT=Production
        DOTNET_ENVIRONMENT=Production

        # Database (the services read ConnectionStrings__documents, set per service from the same values).
        MONGODB_URI={{MongoAppUri}}

        # Redis (the services read ConnectionStrings__redis, set per service from the same values).
        REDIS_HOST=127.0.0.1
        REDIS_PORT={{RedisPort}}
        REDIS_DB=0
        REDIS_USERNAME={{RedisAppUser}}
        REDIS_PASSWORD={{Placeholder("REDIS_APP_PASSWORD")}}

        # JWT
        JWT_SECRET_KEY={{Placeholder("JWT_SECRET_KEY")}}

        # AWS S3
        AWS_ACCESS_KEY={{Placeholder("AWS_ACCESS_KEY")}}
        AWS_SECRET_KEY={{Placeholder("AWS_SECRET_KEY")}}
        AWS_REGION=us-east-1
        AWS_S3_BUCKET={{Placeholder("AWS_S3_BUCKET")}}

        # Email and SMS
        BREVO_API_KEY={{Placeholder("BREVO_API_KEY")}}
        BULKSMS_USERNAME={{Placeholder("BULKSMS_USERNAME")}}
        BULKSMS_PASSWORD={{Placeholder("BULKSMS_PASSWORD")}}

        # The providers' delivery-receipt webhooks: the last segment of each URL given to the provider
        # (https://api.<domain>/api/webhooks/bulksms/<token>, .../brevo/<token>). Unset, a webhook answers 404.
        Webhooks__BulkSmsToken={{Placeholder("WEBHOOK_BULKSMS_TOKEN")}}
        Webhooks__BrevoToken={{Placeholder("WEBHOOK_BREVO_TOKEN")}}

        """;

    public static string ForService(VmService service)
    {
        var text = new StringBuilder();
        text.Append($$"""
            {{UbuntuVmDeployment.Header()}}
            # {{service.Name}}: what the app model gives this service, with the VM's values.

            """);
        // The old plan's PORT: the port this service listens on, behind nginx (ASPNETCORE_URLS binds it).
        text.Append("PORT=").Append(service.Port.ToString(System.Globalization.CultureInfo.InvariantCulture)).Append('\n');
        foreach (var (key, value) in service.Environment)
        {
            text.Append(key).Append('=').Append(value).Append('\n');
        }
        return text.ToString();
    }

    public static string Backup() => $$"""
        {{UbuntuVmDeployment.Header()}}
        # Read by {{SystemName}}-backup.service (root only: it holds admin credentials).
        BACKUP_DIR={{BackupDirectory}}
        RETENTION_DAYS=7
        REDIS_PORT={{RedisPort}}
        REDIS_USER={{RedisOpsUser}}
        REDISCLI_AUTH={{Placeholder("REDIS_OPS_PASSWORD")}}
        REDIS_DIR=/var/lib/redis
        MONGODB_BACKUP_URI=mongodb://{{MongoAdminUser}}:{{Placeholder("MONGODB_ADMIN_PASSWORD")}}@127.0.0.1:{{MongoPort}}/?authSource=admin

        """;
}
