// The Function App on the Flex Consumption plan (FC1, Linux): Python 3.11, scale to zero, the
// package deployed from a blob container that the app's own identity reads. On Flex the runtime
// is set in functionAppConfig: FUNCTIONS_WORKER_RUNTIME and FUNCTIONS_EXTENSION_VERSION must not
// appear in the app settings.

@description('Name of the Function App.')
param name string

@description('Name of the Flex Consumption plan.')
param planName string

@description('Region of the plan and the app.')
param location string

@description('Tags; the app also gets azd-service-name=api so `azd deploy` finds it.')
param tags object

@description('Resource id of the user-assigned identity the app runs as.')
param identityId string

@description('Storage account holding the deployment container.')
param storageAccountName string

@description('Blob container of the deployment package.')
param deploymentContainerName string

@description('Most instances the app scales out to.')
param maximumInstanceCount int = 40

@description('Memory of each instance, in MB.')
param instanceMemoryMB int = 2048

@description('Python version of the worker.')
param pythonVersion string = '3.11'

@description('App settings (names and values; no secrets).')
param appSettings object

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, {
    'azd-service-name': 'api'
  })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'python'
        version: pythonVersion
      }
    }
  }

  resource settings 'config' = {
    name: 'appsettings'
    properties: appSettings
  }
}

output id string = site.id
output name string = site.name
output url string = 'https://${site.properties.defaultHostName}'
