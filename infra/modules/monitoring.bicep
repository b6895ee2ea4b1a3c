// Log Analytics workspace and the workspace-based Application Insights component the Functions
// host and the app's OpenTelemetry exporter send to.

@description('Name of the Log Analytics workspace.')
param logAnalyticsName string

@description('Name of the Application Insights component.')
param appInsightsName string

@description('Region of both resources.')
param location string

@description('Tags of both resources.')
param tags object

@description('Accept only Entra ID-authenticated ingestion.')
param disableLocalAuth bool = true

@description('Daily ingestion cap of the workspace in GB (-1: no cap).')
param dailyCapGb int = 1

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: 30
    workspaceCapping: {
      dailyQuotaGb: dailyCapGb
    }
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: appInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logAnalytics.id
    IngestionMode: 'LogAnalytics'
    DisableLocalAuth: disableLocalAuth
  }
}

output logAnalyticsId string = logAnalytics.id
output appInsightsName string = appInsights.name
// An instrumentation key and endpoints: identifiers, not credentials (ingestion is Entra ID-only
// when disableLocalAuth is set).
output appInsightsConnectionString string = appInsights.properties.ConnectionString
