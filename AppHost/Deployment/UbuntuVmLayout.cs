using AppHost.Backends;

namespace AppHost.Deployment;

/// <summary>Where things live on the VM, and the placeholders <c>install.sh</c> fills in.</summary>
public static class UbuntuVmLayout
{
    public const string SystemName = "notification-pipeline";
    public const string ServiceUser = "notifications";
    public const string InstallRoot = "/opt/" + SystemName;
    public const string ConfigDirectory = "/etc/" + SystemName;
    public const string SecretsDirectory = ConfigDirectory + "/secrets";
    public const string TlsDirectory = ConfigDirectory + "/tls";
    public const string BackupDirectory = "/var/backups/" + SystemName;
    public const string LogDirectory = "/var/log/" + SystemName;
    public const string DotnetPath = "/usr/bin/dotnet";
    public const string SharedEnvironmentFile = SystemName + ".env";
    public const string BackupEnvironmentFile = "backup.env";
    public const string BackupCommand = "/usr/local/sbin/" + SystemName + "-backup";

    public const int RedisPort = 6379;
    public const string RedisAppUser = ServiceUser;
    public const string RedisOpsUser = "ops";
    public const int MongoPort = 27017;
    // The old backend's database: existing data keeps its name.
    public const string MongoDatabase = "suma_madam";
    public const string MongoAppUser = ServiceUser;
    public const string MongoAdminUser = "admin";
    // mongod runs as a one-member replica set: the stores write a record and its notifications in one transaction.
    public const string MongoReplicaSet = DocumentStoreBackend.MongoReplicaSet;
    /// <summary>The replica set's key file (mongod refuses authorization on a replica set without one); install.sh makes it once.</summary>
    public const string MongoKeyFile = "/etc/mongod.keyfile";

    /// <summary>Secrets <c>install.sh</c> generates once (kept in <see cref="SecretsDirectory"/>) and writes into the installed files.</summary>
    public static readonly IReadOnlyList<string> GeneratedSecrets =
        ["REDIS_APP_PASSWORD", "REDIS_OPS_PASSWORD", "MONGODB_APP_PASSWORD", "MONGODB_ADMIN_PASSWORD", "JWT_SECRET_KEY",
         "WEBHOOK_BULKSMS_TOKEN", "WEBHOOK_BREVO_TOKEN"];

    /// <summary>Secrets only the operator has (provider accounts); install.sh lists any still unset.</summary>
    public static readonly IReadOnlyList<string> OperatorSecrets =
        ["AWS_ACCESS_KEY", "AWS_SECRET_KEY", "AWS_S3_BUCKET", "BREVO_API_KEY", "BULKSMS_USERNAME", "BULKSMS_PASSWORD"];

    public const string PublicDomainPlaceholder = "__PUBLIC_DOMAIN__";

    public static string Placeholder(string name) => $"__{name}__";

    public static string RedisAppConnectionString =>
        $"127.0.0.1:{RedisPort},user={RedisAppUser},password={Placeholder("REDIS_APP_PASSWORD")},defaultDatabase=0,abortConnect=false";

    public static string MongoAppUri =>
        $"mongodb://{MongoAppUser}:{Placeholder("MONGODB_APP_PASSWORD")}@127.0.0.1:{MongoPort}/{MongoDatabase}?authSource={MongoDatabase}&replicaSet={MongoReplicaSet}";

    /// <summary>What each connection-string resource of the app model is on the VM.</summary>
    public static readonly IReadOnlyDictionary<string, string> ConnectionStrings = new Dictionary<string, string>
    {
        [QueueAndCacheBackend.ResourceName] = RedisAppConnectionString,
        [DocumentStoreBackend.ResourceName] = MongoAppUri,
    };

    public static string UnitName(string resourceName) => $"{SystemName}-{resourceName}.service";
}
