// Service Bus namespace (Standard) with the questions queue the starter listens on and the queue
// that receives messages that are not valid Questions. Local (SAS key) auth is disabled.

@description('Name of the namespace.')
param name string

@description('Region of the namespace.')
param location string

@description('Tags of the namespace.')
param tags object

@description('Queue of incoming questions.')
param queueName string

@description('Queue of rejected (not valid Question) messages, written by the starter.')
param deadLetterQueueName string

@description('Deliveries of a message before Service Bus dead-letters it.')
param maxDeliveryCount int = 10

resource namespace 'Microsoft.ServiceBus/namespaces@2022-10-01-preview' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: 'Standard'
    tier: 'Standard'
  }
  properties: {
    disableLocalAuth: true
    minimumTlsVersion: '1.2'
    publicNetworkAccess: 'Enabled'
  }

  resource questions 'queues' = {
    name: queueName
    properties: {
      // Longer than a start takes; the host renews the lock while the function runs.
      lockDuration: 'PT1M'
      maxDeliveryCount: maxDeliveryCount
      deadLetteringOnMessageExpiration: true
      defaultMessageTimeToLive: 'P14D'
      // A producer's retry of the same message id within 10 minutes is dropped by the broker;
      // the starter's deterministic instance id covers anything later.
      requiresDuplicateDetection: true
      duplicateDetectionHistoryTimeWindow: 'PT10M'
      maxSizeInMegabytes: 1024
    }
  }

  resource deadLetters 'queues' = {
    name: deadLetterQueueName
    properties: {
      lockDuration: 'PT1M'
      maxDeliveryCount: maxDeliveryCount
      deadLetteringOnMessageExpiration: true
      defaultMessageTimeToLive: 'P14D'
      maxSizeInMegabytes: 1024
    }
  }
}

output id string = namespace.id
output name string = namespace.name
// serviceBusEndpoint is https://<name>.servicebus.windows.net:443/ (with the cloud's own suffix).
output fullyQualifiedNamespace string = split(split(namespace.properties.serviceBusEndpoint, '//')[1], ':')[0]
output queueName string = namespace::questions.name
output deadLetterQueueName string = namespace::deadLetters.name
